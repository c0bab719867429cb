/**
 * A copy of `text` that shares no memory with it. V8 keeps a slice of a string, and a string
 * built from one, as a view into the whole original: a 200-character cut of a 1 MB message
 * holds the megabyte for as long as the cut is stored. A JSON round trip builds a fresh, flat
 * string of the same characters; a Buffer round trip would copy too, but turns lone surrogates
 * into U+FFFD.
 */
export function detached(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/** `text` cut to `max` characters and an ellipsis, as a string that holds nothing else in memory. */
export function storedText(text: string, max: number): string {
  return detached(text.length > max ? `${text.slice(0, max)}…` : text);
}

// Reading Markdown the way GitHub renders it, enough to test what the docs promise: fenced code
// blocks, the headings links can point at, and the links themselves.

/** A fenced code block, with where it starts and the `<!-- docs-test: … -->` comment before it, if any. */
export interface CodeBlock {
  /** The file, relative to the repository root, e.g. `docs/alerts.md`. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word, e.g. `ts`; empty when the fence names none. */
  lang: string;
  /** The block's text, its fence's indentation removed, ending in a newline. */
  code: string;
  /** What the `<!-- docs-test: … -->` comment just before the block says, if there is one. */
  marker?: string;
}

const FENCE = /^( *)(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
const MARKER = /^<!--\s*docs-test:\s*(.+?)\s*-->$/;

/** Every fenced code block of a Markdown text. An unclosed fence runs to the end, as on GitHub. */
export function codeBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index] as string);
    if (!open) continue;
    const [, indent = '', fence = '', lang = ''] = open;
    const body: string[] = [];
    let end = index + 1;
    for (; end < lines.length; end++) {
      const line = lines[end] as string;
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    let before = index - 1;
    while (before >= 0 && (lines[before] as string).trim() === '') before--;
    const marker = before >= 0 ? MARKER.exec((lines[before] as string).trim())?.[1] : undefined;
    blocks.push({ file, line: index + 1, lang, code: body.map((line) => `${line}\n`).join(''), ...(marker ? { marker } : {}) });
    index = end;
  }
  return blocks;
}

/** The lines of a Markdown text, those of fenced blocks (fences included) blanked out. */
function outsideFences(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const open = FENCE.exec(line);
    if (fence === undefined && open) {
      fence = open[2];
      return '';
    }
    if (fence !== undefined) {
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') fence = undefined;
      return '';
    }
    return line;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown text's headings, a repeated one numbered as GitHub does (`-1`, `-2`). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const line of outsideFences(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.add(count === 0 ? base : `${base}-${count}`);
  }
  return found;
}

/** The targets of the inline links and images outside code, with their lines. */
export function links(text: string): Array<{ target: string; line: number }> {
  const found: Array<{ target: string; line: number }> = [];
  outsideFences(text)
    .map((line) => line.replace(/(`+)[\s\S]*?\1/g, ''))
    .forEach((line, index) => {
      for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
        found.push({ target: match[1] as string, line: index + 1 });
    });
  return found;
}

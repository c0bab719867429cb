// The streams bench's SSE reader (bench/streams.ts): it searches each chunk for the status
// marker without gathering the stream, so a marker or a status line cut anywhere, over two or
// three chunks, must still be read once.
import { Receipts, SseStatusReader, type Change } from '../bench/streams';

// bench/measure.ts loads light-my-request, whose ESM dependency jest cannot load; the reader needs none of it.
jest.mock('../bench/measure', () => ({}));

const PULSE = 'id: 1\nevent: pulse\ndata: {"services":["s_0","s_1"]}\n\n';
const STATUS = 'id: 2\nevent: status\ndata: {"service":"s_1","from":"healthy","to":"warning","time":"x"}\n\n';
const RESUMED = 'id: 3\nevent: status\ndata: {"service":"s_2","from":"warning","to":"healthy","time":"x"}\n\n';
const STREAM = PULSE + STATUS + RESUMED;

const change = (service: string, to: string): Change => ({ service, to, at: 0, cause: 0, written: 0 });

/** What one reader noted of `pieces`, read in order: each change's count of receipts. */
function receiptsOf(pieces: string[]): [number | undefined, number | undefined] {
  const receipts = new Receipts();
  const reader = new SseStatusReader(receipts);
  for (const piece of pieces) reader.read(Buffer.from(piece));
  return [receipts.of(change('s_1', 'warning'))?.count, receipts.of(change('s_2', 'healthy'))?.count];
}

/** The cuts that split `text` into chunks: none, every single cut, and every pair of cuts. */
function splits(text: string): string[][] {
  const all: string[][] = [[text]];
  for (let i = 1; i < text.length; i++) {
    all.push([text.slice(0, i), text.slice(i)]);
    for (let j = i + 1; j < text.length; j++) all.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
  }
  return all;
}

describe('the streams bench SSE reader', () => {
  it('reads both status events once, however the stream is cut into one, two or three chunks', () => {
    const misread = splits(STREAM).filter((pieces) => {
      const [warning, healthy] = receiptsOf(pieces);
      return warning !== 1 || healthy !== 1;
    });
    expect(misread).toEqual([]);
  });

  it('reads a marker arriving byte by byte', () => {
    expect(receiptsOf(Array.from({ length: STREAM.length }, (_, i) => STREAM.charAt(i)))).toEqual([1, 1]);
  });

  it('notes nothing for a pulse batch naming the services', () => {
    expect(receiptsOf([PULSE, PULSE])).toEqual([undefined, undefined]);
  });
});

import { Writable } from 'node:stream';
import { CHUNK_CHARS, writeInChunks } from '../lib/http/write-chunks';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A reader that takes nothing until told: every write past its small buffer waits for `drain`. */
function stalledReader(): { out: Writable; written: string[]; release: () => void } {
  const written: string[] = [];
  const waiting: Array<() => void> = [];
  const out = new Writable({
    highWaterMark: 1024,
    decodeStrings: false,
    write(chunk: string, _encoding, callback) {
      written.push(chunk);
      waiting.push(() => {
        callback();
      });
    },
  });
  return {
    out,
    written,
    release: () => {
      waiting.splice(0).forEach((callback) => {
        callback();
      });
    },
  };
}

/** `count` pieces of 1,000 characters, counting how many were taken and whether the generator was closed. */
function counted(count: number) {
  const state = { taken: 0, closed: false };
  function* pieces(): Generator<string> {
    try {
      for (let i = 0; i < count; i++) {
        state.taken++;
        yield 'x'.repeat(1000);
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, pieces: pieces() };
}

it('builds one chunk at a time while the reader is slow, and the next one after it drains', async () => {
  const { out, written, release } = stalledReader();
  const { state, pieces } = counted(1000);
  writeInChunks(out, pieces, { start: () => undefined, failed: () => undefined });
  for (let i = 0; i < 5; i++) await nextTurn();
  expect(written).toHaveLength(1);
  expect(state.taken).toBeLessThanOrEqual(CHUNK_CHARS / 1000 + 1);
  release();
  for (let i = 0; i < 5; i++) await nextTurn();
  expect(written).toHaveLength(2);
});

it('abandons the pieces and closes their generator when the reader goes away', async () => {
  const { out } = stalledReader();
  const { state, pieces } = counted(1000);
  writeInChunks(out, pieces, { start: () => undefined, failed: () => undefined });
  const taken = state.taken;
  out.destroy();
  for (let i = 0; i < 5; i++) await nextTurn();
  expect(state.closed).toBe(true);
  expect(state.taken).toBe(taken);
});

it('writes everything and ends, calling start once before the first write', async () => {
  const chunks: string[] = [];
  const events: string[] = [];
  const out = new Writable({
    decodeStrings: false,
    write(chunk: string, _encoding, callback) {
      events.push('write');
      chunks.push(chunk);
      callback();
    },
  });
  const finished = new Promise((resolve) => out.once('finish', resolve));
  const { state, pieces } = counted(200);
  writeInChunks(out, pieces, { start: () => events.push('start'), failed: () => undefined });
  await finished;
  expect(chunks.join('')).toBe('x'.repeat(200_000));
  expect(chunks.length).toBeGreaterThan(2);
  expect(events[0]).toBe('start');
  expect(events.filter((event) => event === 'start')).toHaveLength(1);
  expect(state.closed).toBe(true);
});

it('throws a failure of the first chunk, before anything is written, and destroys the output on a later one', async () => {
  const out = new Writable({
    write: (_chunk, _encoding, callback) => {
      callback();
    },
  });
  const start = jest.fn();
  function* failing(after: number): Generator<string> {
    for (let i = 0; i < after; i++) yield 'x'.repeat(1000);
    throw new Error('boom');
  }
  expect(() => {
    writeInChunks(out, failing(3), { start, failed: () => undefined });
  }).toThrow('boom');
  expect(start).not.toHaveBeenCalled();
  expect(out.destroyed).toBe(false);

  const failures: unknown[] = [];
  writeInChunks(out, failing(200), { start, failed: (error) => failures.push(error) });
  for (let i = 0; i < 10 && failures.length === 0; i++) await nextTurn();
  expect(start).toHaveBeenCalledTimes(1);
  expect(failures).toEqual([new Error('boom')]);
  expect(out.destroyed).toBe(true);
});

import { readEntry, readSnapshotBody } from '../lib/core/saved-entries';
import { NewerStateError, StateFormatError } from '../lib/core/state-check';

const AT = Date.parse('2026-11-30T10:00:00.000Z');
const COUNTERS = {
  tag: 'save_worker',
  remote: false,
  settings: { interval_ms: 30_000, grace_ms: 3000, critical: true },
  total_pulses: 3,
  error_count: 1,
  started_at: AT - 60_000,
  last_heartbeat: AT - 1000,
  last_error: { message: 'disk full', time: AT - 2000, critical: false },
};
const DAY_ROW = [20_422, 1000, 0, 2, 3, 1];

describe('readEntry()', () => {
  it.each<[string, unknown]>([
    ['counters', ['c', AT, COUNTERS, AT - 60_000, DAY_ROW]],
    ['counters with open errors and no day yet', ['c', AT, { ...COUNTERS, open_errors: [2, 3] }, AT - 60_000, null]],
    ['pulses', ['u', AT, 'save_worker', 5, AT - 10, DAY_ROW]],
    ['a transition', ['t', 'save_worker', AT, 'healthy', 'critical', 'missed 5 heartbeats']],
    ['a removal', ['x', 'save_worker', AT]],
    ['a note', ['n', 'alerts', '11:save_worker:ops', { since: AT }, AT]],
    ['a note removed', ['n', 'alerts', '11:save_worker:ops', null, AT]],
    ['a cleanup of every service', ['p', AT - 86_400_000, AT, null]],
    ['a cleanup of one service', ['p', AT - 86_400_000, AT, 'save_worker']],
    ['an offline span', ['o', AT - 60_000, AT]],
    ['an alive mark', ['a', AT]],
  ])('reads %s', (_, entry) => {
    expect(readEntry(JSON.parse(JSON.stringify(entry)))).toEqual(entry);
  });

  it.each<[string, unknown, RegExp]>([
    [
      'not an array',
      { kind: 'c' },
      /^Saved entry is an object; expected an array whose first item is its kind: c, u, t, x, n, p, o or a\.$/,
    ],
    ['an empty array', [], /"0" is an unknown kind; expected an entry kind/],
    ['a kind that is no letter', ['cc', AT], /"0" is an unknown kind/],
    ['counters of the wrong length', ['c', AT, COUNTERS], /^Saved entry is an array; expected an array of 5 entries\.$/],
    ['counters at no wall time', ['c', -1, COUNTERS, AT, null], /"1" is -1; expected wall-clock milliseconds/],
    ['counters with an unknown field', ['c', AT, { ...COUNTERS, extra: 1 }, AT, null], /"2.extra" is 1; expected no such field/],
    ['counters with negative pulses', ['c', AT, { ...COUNTERS, total_pulses: -1 }, AT, null], /"2.total_pulses" is -1/],
    ['counters with an open error level of 3', ['c', AT, { ...COUNTERS, open_errors: [3, 1] }, AT, null], /"2.open_errors\[0\]" is 3/],
    ['counters with a day of two rows', ['c', AT, COUNTERS, AT, [1, 2]], /"4" is an array; expected an array of 6 entries/],
    ['a day longer than a day', ['c', AT, COUNTERS, AT, [20_422, 86_400_001, 0, 0, 0, 0]], /"4\[1\]" is 86400001/],
    ['pulses of zero', ['u', AT, 'save_worker', 0, AT, null], /"3" is 0; expected a whole number from 1/],
    ['pulses of an empty tag', ['u', AT, '', 1, AT, null], /"2" is a string of 0 characters; expected a non-empty string/],
    [
      'a transition to an unknown status',
      ['t', 'save_worker', AT, 'healthy', 'down', 'x'],
      /"4" is a string of 4 characters; expected one of/,
    ],
    [
      'a transition with a reason past the cut',
      ['t', 'save_worker', AT, 'healthy', 'warning', 'x'.repeat(202)],
      /"5" is a string of 202 characters/,
    ],
    ['a removal of no tag', ['x', null, AT], /"1" is null; expected a non-empty string/],
    ['a note of a number key', ['n', 'alerts', 5, null, AT], /"2" is 5; expected a string/],
    ['a cleanup at an infinite cutoff', ['p', Infinity, AT, null], /"1" is Infinity/],
    ['a cleanup of a numbered tag', ['p', AT, AT, 7], /"3" is 7; expected a non-empty string/],
    ['an offline span that ends before it starts', ['o', AT, AT - 1], /"2" is \d+; expected at least the entry before it/],
    ['an alive mark as text', ['a', '2026-11-30'], /"1" is a string of 10 characters/],
  ])('refuses %s, naming the field', (_, entry, message) => {
    expect(() => readEntry(entry)).toThrow(StateFormatError);
    expect(() => readEntry(entry)).toThrow(message);
  });

  it('never echoes a string it refuses: a saved error message may hold a secret', () => {
    const secret = 'postgres://admin:hunter2@db/prod';
    expect(() => readEntry(['t', 'save_worker', AT, 'healthy', secret, 'x'])).toThrow(/a string of 32 characters/);
    expect(() => readEntry(['t', 'save_worker', AT, 'healthy', secret, 'x'])).not.toThrow(/hunter2/);
  });

  it('takes an entry of a one-letter kind it does not know for one a newer version wrote', () => {
    expect(() => readEntry(['z', AT])).toThrow(NewerStateError);
    expect(() => readEntry(['z', AT])).toThrow(
      'Saved entry: of kind "z", which this express-heartbeat does not know (it reads c, u, t, x, n, p, o and a): written by a newer one; upgrade to read it.',
    );
  });
});

describe('readSnapshotBody()', () => {
  const body = { v: 1, saved_at: AT, services: [{ any: 'thing' }], notes: { alerts: { '11:save_worker:ops': { since: AT } } } };

  it('checks the envelope and the notes, and hands the services back unchecked, to be read one by one', () => {
    const read = readSnapshotBody(body);
    expect(read.savedAt).toBe(AT);
    expect(read.services).toEqual([{ any: 'thing' }]);
    expect([...(read.notes.get('alerts')?.entries() ?? [])]).toEqual([['11:save_worker:ops', { since: AT }]]);
  });

  it.each<[string, unknown, RegExp]>([
    ['a body that is a list', [], /^Saved snapshot is an array; expected an object\.$/],
    ['a missing time', { ...body, saved_at: undefined }, /"saved_at" is undefined/],
    ['services that are no list', { ...body, services: {} }, /"services" is an object; expected an array/],
    ['notes that are a list', { ...body, notes: [] }, /"notes" is an array; expected an object/],
    ['a space of notes that is text', { ...body, notes: { alerts: 'x' } }, /"notes.alerts" is a string of 1 character; expected an object/],
    ['version 0', { ...body, v: 0 }, /"v" is 0; expected a whole number from 1 to 1/],
  ])('refuses %s, naming the field', (_, value, message) => {
    expect(() => readSnapshotBody(value)).toThrow(message);
  });

  it('refuses a newer version as such, before anything else in it', () => {
    expect(() => readSnapshotBody({ v: 2, shards: [] })).toThrow(NewerStateError);
  });
});

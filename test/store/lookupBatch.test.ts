// Session checks on PostgreSQL share queries; this defends the rule that every answer is read after
// its request arrived, so a session revoked before a check is never seen as active by that check.
import { describe, expect, it } from 'vitest';
import { LookupBatch } from '../../src/store/lookupBatch.js';

/** A load function whose queries are finished by hand, recording which keys each query was asked. */
function manualLoad(table: Map<string, string>) {
  const queries: { keys: string[]; finish: () => void; fail: (error: Error) => void }[] = [];
  const load = (keys: string[]) =>
    new Promise<Map<string, string>>((resolve, reject) => {
      // The query reads the table when it starts, as a database statement would.
      const snapshot = new Map(keys.filter((key) => table.has(key)).map((key) => [key, table.get(key)!]));
      queries.push({ keys, finish: () => resolve(snapshot), fail: reject });
    });
  return { load, queries };
}

/** Lets pending callbacks run: a finished query's answers, then the query it starts. */
const turn = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('LookupBatch', () => {
  it('answers the keys asked in one turn with one query, each with its own value, and unknown keys with undefined', async () => {
    const { load, queries } = manualLoad(new Map([['a', 'A'], ['b', 'B']]));
    const batch = new LookupBatch(load, 1, 10);
    const answers = Promise.all([batch.get('a'), batch.get('b'), batch.get('a'), batch.get('missing')]);
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([['a', 'b', 'missing']]);
    queries[0]!.finish();
    expect(await answers).toEqual(['A', 'B', 'A', undefined]);
  });

  it('a key asked while a query is in flight is answered by a later query, which sees a change made meanwhile', async () => {
    const table = new Map([['s', 'active']]);
    const { load, queries } = manualLoad(table);
    const batch = new LookupBatch(load, 1, 10);
    const first = batch.get('s');
    await turn();
    expect(queries).toHaveLength(1);
    // The session is revoked while the first query runs; then a second check arrives for it.
    table.set('s', 'revoked');
    const second = batch.get('s');
    await turn();
    expect(queries).toHaveLength(1);
    queries[0]!.finish();
    expect(await first).toBe('active');
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([['s'], ['s']]);
    queries[1]!.finish();
    expect(await second).toBe('revoked');
  });

  it('runs at most the given number of queries at once, each with at most the given number of keys', async () => {
    const { load, queries } = manualLoad(new Map());
    const batch = new LookupBatch(load, 2, 3);
    const answers = Promise.all(['1', '2', '3', '4', '5', '6', '7'].map((key) => batch.get(key)));
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([['1', '2', '3'], ['4', '5', '6']]);
    queries[0]!.finish();
    await turn();
    expect(queries.map((q) => q.keys)).toEqual([['1', '2', '3'], ['4', '5', '6'], ['7']]);
    queries[1]!.finish();
    queries[2]!.finish();
    expect(await answers).toEqual(Array(7).fill(undefined));
  });

  it('a failed query fails every check it answers, and the next query runs', async () => {
    const { load, queries } = manualLoad(new Map([['a', 'A']]));
    const batch = new LookupBatch(load, 1, 10);
    const failing = Promise.allSettled([batch.get('a'), batch.get('b')]);
    await turn();
    queries[0]!.fail(new Error('connection lost'));
    expect((await failing).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const next = batch.get('a');
    await turn();
    queries[1]!.finish();
    expect(await next).toBe('A');
  });

  it('a load that throws at once fails its checks, and later checks still get a query', async () => {
    let calls = 0;
    const batch = new LookupBatch(
      (keys: string[]) => {
        calls += 1;
        if (calls === 1) throw new Error('no connection');
        return Promise.resolve(new Map(keys.map((key) => [key, key.toUpperCase()])));
      },
      1,
      10,
    );
    expect((await Promise.allSettled([batch.get('a'), batch.get('b')])).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await batch.get('a')).toBe('A');
  });
});

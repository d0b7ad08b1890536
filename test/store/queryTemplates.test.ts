// Sign-in queries are built once and then only bound; a template must run exactly the query a fresh
// build would, for any values, and refuse a build whose shape depends on its arguments.
import SQLite from 'better-sqlite3';
import { CamelCasePlugin, Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueryTemplates } from '../../src/store/queryTemplates.js';

interface Db {
  items: { id: string; ownerId: string; status: string; score: number; note: string | null };
}

describe('QueryTemplates', () => {
  let db: Kysely<Db>;
  beforeEach(async () => {
    db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }), plugins: [new CamelCasePlugin()] });
    await db.schema.createTable('items').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('owner_id', 'text').addColumn('status', 'text').addColumn('score', 'integer').addColumn('note', 'text').execute();
  });
  afterEach(() => db.destroy());

  it('binds each call’s values where the arguments stood, keeping the constants the query was built with', async () => {
    // As in production: built once, then only bound.
    const templates = new QueryTemplates({ verify: false });
    const insert = (id: string, ownerId: string, score: number, note: string | null) =>
      db.executeQuery(templates.bind('insert', (id: string, ownerId: string, score: number, note: string | null) => db.insertInto('items').values({ id, ownerId, status: 'open', score, note }), [id, ownerId, score, note]));
    await insert('a', 'ann', 3, null);
    await insert('b', 'bob', 7, 'x');
    await insert('c', 'ann', 9, 'y');
    const find = (ownerId: string, minScore: number) =>
      db.executeQuery(
        templates.bind(
          'find',
          (ownerId: string, minScore: number) => db.selectFrom('items').selectAll().where('ownerId', '=', ownerId).where('status', '=', 'open').where('score', '>=', minScore).orderBy('id'),
          [ownerId, minScore],
        ),
      );
    // Rows come back through the plugins as a built query's would (camelCase keys).
    expect((await find('ann', 0)).rows).toEqual([
      { id: 'a', ownerId: 'ann', status: 'open', score: 3, note: null },
      { id: 'c', ownerId: 'ann', status: 'open', score: 9, note: 'y' },
    ]);
    expect((await find('ann', 5)).rows.map((row) => row.id)).toEqual(['c']);
    expect((await find('bob', 5)).rows.map((row) => row.id)).toEqual(['b']);
    const bound = templates.bind('find', (_ownerId: string, _minScore: number) => {
      throw new Error('built again');
    }, ['zed', 1]);
    expect(bound.sql).toBe(db.selectFrom('items').selectAll().where('ownerId', '=', 'zed').where('status', '=', 'open').where('score', '>=', 1).orderBy('id').compile().sql);
    expect(bound.parameters).toEqual(['zed', 'open', 1]);
  });

  it('refuses a build that branches on an argument or leaves one out of the query', () => {
    const templates = new QueryTemplates({ verify: false });
    expect(() =>
      templates.bind('branch', (note: string | null) => (note === null ? db.selectFrom('items').selectAll().where('note', 'is', null) : db.selectFrom('items').selectAll().where('status', '=', 'x')), ['n']),
    ).toThrow(/each argument must be a value/);
    expect(() => templates.bind('spread', (row: { id: string }) => db.selectFrom('items').selectAll().where('id', '=', row.id), [{ id: 'a' }])).toThrow(/neither an argument nor a constant|each argument/);
  });

  it('under verification, fails a template whose query differs from the one its arguments build', async () => {
    const templates = new QueryTemplates({ verify: true });
    // Every argument is a value, but the shape depends on one: the stand-in took the first branch.
    const build = (note: string | null, id: string) => (note !== null ? db.selectFrom('items').selectAll().where('note', '=', note).where('id', '=', id) : db.selectFrom('items').selectAll().where('note', 'is', note).where('id', '=', id));
    expect(templates.bind('note', build, ['x', 'a']).parameters).toEqual(['x', 'a']);
    expect(() => templates.bind('note', build, [null, 'a'])).toThrow(/differs from the query built/);
    // An undefined value is left out by a built insert; the template would have written NULL.
    const insert = (id: string, note: string | null | undefined) => db.insertInto('items').values({ id, ownerId: 'o', status: 's', score: 1, note });
    templates.bind('insert', insert, ['a', 'x']);
    expect(() => templates.bind('insert', insert, ['b', undefined])).toThrow(/differs from the query built/);
  });

  it('past its limit, builds queries as usual instead of keeping more templates', async () => {
    const compiled: string[] = [];
    const templates = new QueryTemplates({ compiled: (text) => compiled.push(text) });
    for (let i = 0; i < 260; i++) {
      const query = templates.bind(`score:${i}`, (id: string) => db.selectFrom('items').select('id').where('id', '=', id).where('score', '=', i), [`id${i}`]);
      expect(query.parameters).toEqual([`id${i}`, i]);
    }
    expect(compiled).toHaveLength(200);
  });
});

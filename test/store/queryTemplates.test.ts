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
    const templates = new QueryTemplates();
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
    const templates = new QueryTemplates();
    expect(() =>
      templates.bind('branch', (note: string | null) => (note === null ? db.selectFrom('items').selectAll().where('note', 'is', null) : db.selectFrom('items').selectAll().where('status', '=', 'x')), ['n']),
    ).toThrow(/each argument must be a value/);
    expect(() => templates.bind('spread', (row: { id: string }) => db.selectFrom('items').selectAll().where('id', '=', row.id), [{ id: 'a' }])).toThrow(/neither an argument nor a constant|each argument/);
  });
});

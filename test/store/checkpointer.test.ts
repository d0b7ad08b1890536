// SQLite's WAL is copied back into the database file by a worker thread, not by the commits of the
// request path; the main connection checkpoints only far later, as a fallback.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FALLBACK_AUTOCHECKPOINT_PAGES, startCheckpointer } from '../../src/store/checkpointer.js';
import { openDatabase, type OpenDatabase } from '../../src/store/db.js';

const KB = 1024;

/** Writes about 2 MB in 20 commits: about 500 pages, under SQLite's default checkpoint threshold. */
function writeTwoMegabytes(raw: SQLite.Database) {
  raw.exec('create table if not exists filler (data blob not null)');
  const insert = raw.prepare('insert into filler (data) values (?)');
  const commit = raw.transaction(() => {
    for (let i = 0; i < 25; i++) insert.run(Buffer.alloc(4 * KB, i));
  });
  for (let i = 0; i < 20; i++) commit();
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return condition();
}

describe('background WAL checkpoints (SQLite)', () => {
  let dir: string;
  let path: string;
  let database: OpenDatabase | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'doorman-checkpoint-'));
    path = join(dir, 'doorman.sqlite');
  });
  afterEach(async () => {
    await database?.close();
    database = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies committed pages into the database file from the worker, while the main connection leaves the WAL alone', async () => {
    database = openDatabase(path, { backgroundCheckpoints: true });
    const raw = database.raw as SQLite.Database;
    expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(FALLBACK_AUTOCHECKPOINT_PAGES);
    const before = statSync(path).size;
    writeTwoMegabytes(raw);
    expect(await waitFor(() => statSync(path).size >= before + 1900 * KB, 5000)).toBe(true);
  });

  it('without the worker, the same commits stay in the WAL (the control for the case above)', async () => {
    database = openDatabase(path);
    const raw = database.raw as SQLite.Database;
    const before = statSync(path).size;
    writeTwoMegabytes(raw);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(statSync(path).size).toBeLessThan(before + 100 * KB);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(1900 * KB);
  });

  it('close stops the worker first, so the last connection folds the WAL back and removes it', async () => {
    database = openDatabase(path, { backgroundCheckpoints: true });
    writeTwoMegabytes(database.raw as SQLite.Database);
    await database.close();
    database = undefined;
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = openDatabase(path);
    expect((reopened.raw as SQLite.Database).prepare('select count(*) from filler').pluck().get()).toBe(500);
    await reopened.close();
  });

  it('reports a worker that ends by itself, so SQLite can take its checkpoints back', async () => {
    const stopped = new Promise<unknown>((resolve) => startCheckpointer(join(dir, 'missing.sqlite'), resolve));
    expect((await stopped as { message?: string }).message).toMatch(/unable to open database file/);
  });
});

// Opens the database named by DOORMAN_DATABASE_URL: embedded SQLite (WAL) by default, PostgreSQL for scale.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type pg from 'pg';
import { isPostgresUrl, sqlitePathOf } from '../config.js';
import { DEFAULT_AUTOCHECKPOINT_PAGES, FALLBACK_AUTOCHECKPOINT_PAGES, startCheckpointer } from './checkpointer.js';
import type { Database } from './schema.js';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface OpenDatabase {
  kind: DatabaseKind;
  db: Kysely<Database>;
  /**
   * A client of the driver's own for rate-limiter-flexible: the SQLite connection, or a separate
   * PostgreSQL pool. Writes through it bypass `readVersion`, so they must stay in the limiter's
   * own table.
   */
  raw: SQLite.Database | pg.Pool;
  /**
   * PostgreSQL only: runs a named prepared statement (parsed and planned once per connection) for
   * the hottest reads; rows keep the names the query gives its columns (no camelCase mapping).
   */
  prepared?: (name: string, text: string, values: unknown[]) => Promise<Record<string, unknown>[]>;
  /**
   * PostgreSQL only: from now on this SQL text, when Kysely runs it, runs as a named prepared
   * statement (the server parses and plans it once per connection instead of on every call). For a
   * fixed set of statements that name their columns: a plan cached over `*` fails once a column is added.
   */
  keepPrepared?: (text: string) => void;
  /**
   * SQLite only: a value that changes whenever anything may have been written to the database,
   * by this process (every writing statement counts) or by any other connection (a commit changes
   * SQLite's data_version). Reads taken under an unchanged version are still what the database holds.
   */
  readVersion?: () => string;
  ping(): Promise<void>;
  /** Runs `work` with no bound on query time (migrations, which may rewrite large tables). */
  unbounded<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const PG_INT8 = 20;
/** SQLite's page cache of the service's connection, in KiB. */
const SQLITE_CACHE_KIB = 8000;
/**
 * Queries run in milliseconds; ten seconds means the connection is gone (a network that drops
 * packets, a frozen server). The query fails (503), and its connection is closed, not reused.
 */
const QUERY_TIMEOUT_MS = 10_000;
/** A health check answers quickly or not at all. */
const PING_TIMEOUT_MS = 3_000;

/**
 * The pool as Kysely sees it: every query bounded by `timeoutMs()` (0: no bound, for migrations),
 * and a connection whose query timed out handed back as broken, so the pool closes it. (A timed-out
 * query is still on that connection's wire: every later query there would wait behind it.)
 */
function boundedPool(pool: pg.Pool, timeoutMs: () => number, statementNames: ReadonlyMap<string, string>) {
  return {
    async connect() {
      const client = await pool.connect();
      const { query, release } = client;
      let timedOut = false;
      let broken = false;
      client.query = ((text: unknown, values?: unknown) => {
        const limit = timeoutMs();
        if (typeof text !== 'string' || limit <= 0) return (query as (...args: unknown[]) => unknown).call(client, text, values);
        const name = statementNames.get(text);
        const pending = (query as (config: pg.QueryConfig) => Promise<pg.QueryResult>).call(client, { text, values, query_timeout: limit, ...(name ? { name } : {}) } as pg.QueryConfig);
        pending.catch((error: unknown) => {
          // A prepared statement that no longer fits its table (another instance's migration changed a
          // column it returns): the connection is closed on release, and the next one prepares afresh.
          if (name && isStalePreparedStatement(error)) broken = true;
          if (!isQueryTimeout(error)) return;
          timedOut = true;
          // Closed at once: a ROLLBACK queued behind the stuck query would otherwise wait out a timeout of its own.
          (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        });
        return pending;
      }) as typeof client.query;
      client.release = (error?: Error | boolean) => {
        client.query = query;
        // (Kysely hands back `false`, not undefined, for a connection it found nothing wrong with.)
        release.call(client, error || (timedOut ? new Error('query timed out') : broken ? new Error('prepared statement out of date') : undefined));
      };
      return client;
    },
    end: () => pool.end(),
  };
}

/** 0A000: "cached plan must not change result type"; 26000: the statement is gone from the connection. */
function isStalePreparedStatement(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === '0A000' || code === '26000';
}

function isQueryTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

export interface OpenOptions {
  /**
   * SQLite file only: copy the WAL back into the database from a worker thread instead of from
   * the commit that fills it (a long-running server wants this; a one-off command does not).
   */
  backgroundCheckpoints?: boolean;
  /** Told when the checkpoint worker has stopped by itself (SQLite then checkpoints from commits again). */
  onCheckpointerStopped?: (error: unknown) => void;
}

export function openDatabase(databaseUrl: string, options: OpenOptions = {}): OpenDatabase {
  const plugins = [new CamelCasePlugin()];
  if (isPostgresUrl(databaseUrl)) {
    // Loaded only here: an SQLite instance never holds the PostgreSQL driver in memory.
    const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
    const types = {
      getTypeParser: (oid: number, format?: 'text' | 'binary') =>
        // Times are epoch milliseconds in BIGINT columns; they fit a JS number until the year 287396.
        oid === PG_INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'),
    };
    // A bounded connect timeout: while the database is down, requests fail fast with 503 instead of hanging.
    // A transaction whose client went away (its query timed out, its network failed) is ended by the
    // server after 30 s, so the locks it holds cannot pile up behind it.
    const serverSide = { idle_in_transaction_session_timeout: 30_000 };
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, types, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000, ...serverSide });
    // A client losing its connection must not crash the process, idle or checked out: the query in
    // flight fails on its own (and answers 503), and the pool opens a new connection for the next one.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    // Rate limits are counted while a flow's transaction holds a connection; a pool of their own means
    // a burst of flows can never hold every connection while waiting for one (a pool deadlock).
    // Its queries go through pool.query, which closes a connection whose query failed, timeouts included.
    const limiterPool = new pg.Pool({
      connectionString: databaseUrl,
      max: 5,
      types,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      query_timeout: QUERY_TIMEOUT_MS,
      ...serverSide,
    });
    limiterPool.on('error', () => {});
    limiterPool.on('connect', (client) => client.on('error', () => {}));
    let queryTimeoutMs = QUERY_TIMEOUT_MS;
    const statementNames = new Map<string, string>();
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: boundedPool(pool, () => queryTimeoutMs, statementNames) as unknown as pg.Pool }), plugins });
    return {
      kind: 'postgres',
      db,
      raw: limiterPool,
      keepPrepared: (text) => {
        // A statement over `*` stays unnamed: its cached plan would fail once a migration adds a column.
        if (!statementNames.has(text) && !text.includes('*')) statementNames.set(text, `doorman_q${statementNames.size + 1}`);
      },
      // A bounded wait: a query that never returns (a dead connection, a lock) fails and frees its
      // connection instead of holding up every session check queued behind it.
      prepared: async (name, text, values) => (await pool.query({ name, text, values, query_timeout: QUERY_TIMEOUT_MS } as pg.QueryConfig)).rows as Record<string, unknown>[],
      ping: async () => {
        // Bounded as a whole: waiting for a free connection counts too.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('Query read timeout')), PING_TIMEOUT_MS);
        });
        const query = pool.query({ text: 'select 1', query_timeout: PING_TIMEOUT_MS } as pg.QueryConfig);
        query.catch(() => {}); // answered by the race when late
        try {
          await Promise.race([query, late]);
        } finally {
          clearTimeout(timer);
        }
      },
      unbounded: async (work) => {
        queryTimeoutMs = 0;
        try {
          return await work();
        } finally {
          queryTimeoutMs = QUERY_TIMEOUT_MS;
        }
      },
      close: async () => {
        await db.destroy();
        await limiterPool.end();
      },
    };
  }

  const path = sqlitePathOf(databaseUrl);
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // 8 MB of pages, not better-sqlite3's 16 MB: what a busy instance rereads (index roots, sessions,
  // devices, recent rows) fits, and lookups spread over a large table miss a cache of either size
  // (the kernel's page cache serves them). Measured with a million accounts: 9 MB less resident
  // memory under sign-in load, and no change in throughput.
  sqlite.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
  let checkpointer: { close(): Promise<void> } | undefined;
  if (options.backgroundCheckpoints && !sqlite.memory) {
    sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    checkpointer = startCheckpointer(sqlite.name, (error) => {
      // The worker is gone: SQLite checkpoints from commits again, as it does by default.
      if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
      options.onCheckpointerStopped?.(error);
    });
  }
  const cached = withStatementCache(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }), plugins });
  const dataVersion = sqlite.prepare('pragma data_version').pluck();
  return {
    kind: 'sqlite',
    db,
    raw: sqlite,
    readVersion: () => `${cached.writes()}:${dataVersion.get() as number}`,
    ping: async () => {
      sqlite.prepare('select 1').get();
    },
    unbounded: (work) => work(),
    close: async () => {
      // The worker's connection closes first, so the last one to close (ours) folds the WAL back.
      await checkpointer?.close();
      await db.destroy();
      // Kysely closes the connection only if it ever used it.
      if (sqlite.open) sqlite.close();
    },
  };
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query anew, and preparing costs more than running a small query; the
 * same SQL text always gets the same prepared statement here (statements are reusable).
 */
function withStatementCache(sqlite: SQLite.Database) {
  const cache = new Map<string, SQLite.Statement>();
  let writes = 0;
  return {
    close: () => sqlite.close(),
    /** How many statements that may write (begin, commit and rollback included) this connection has run. */
    writes: () => writes,
    prepare(text: string) {
      let statement = cache.get(text);
      if (!statement) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
        statement = sqlite.prepare(text);
        // Anything that may change the database counts: writes that return rows (RETURNING), and
        // the statements that are not reads at all (BEGIN, COMMIT and ROLLBACK among them).
        if (!statement.readonly || !statement.reader) statement = countingWrites(statement);
        cache.set(text, statement);
      }
      return statement;
    },
  };

  function countingWrites(statement: SQLite.Statement): SQLite.Statement {
    // Kysely's SQLite driver reads `reader` and calls `all` (statements returning rows, which
    // includes INSERT/UPDATE … RETURNING), `iterate` (streams) or `run` (the rest).
    const counted = {
      reader: statement.reader,
      run: (...parameters: unknown[]) => {
        writes += 1;
        return statement.run(...parameters);
      },
      all: (...parameters: unknown[]) => {
        writes += 1;
        return statement.all(...parameters);
      },
      iterate: (...parameters: unknown[]) => {
        writes += 1;
        return statement.iterate(...parameters);
      },
    };
    return counted as unknown as SQLite.Statement;
  }
}

// Rate limits kept in the service's own database (rate-limiter-flexible), so they hold across instances.
import type SQLite from 'better-sqlite3';
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { SendLimitDecision, SendLimitKey, SendLimitName, SendLimits } from '../flows/ports.js';
import type { OpenDatabase } from './db.js';

export interface LimitSpec {
  name: string;
  points: number;
  durationSeconds: number;
}

/** `firstRefusal`: this is the refusal that went one past the budget (worth recording once, not on every request of a flood). */
export type LimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; firstRefusal: boolean };

export interface Limiter {
  /** Counts one event; refused once the budget for the window is spent. */
  consume(key: string): Promise<LimitDecision>;
  /** Whether the budget is already spent, without counting anything. */
  check(key: string): Promise<LimitDecision>;
  /** Gives one event back (an honest outcome should not use up the budget). */
  refund(key: string): Promise<void>;
}

const TABLE = 'doorman_rate_limits';

const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Gives one point back, only to a count still running and above zero. The library's `reward` would
 * start an expired window at -1, so a refund landing just after a window ends would enlarge the next.
 */
type Refund = (storedKey: string, now: number) => Promise<void>;

function refundFor(database: OpenDatabase): Refund {
  const text = `update ${TABLE} set points = points - 1 where key = $1 and points > 0 and (expire is null or expire > $2)`;
  if (database.kind === 'postgres') {
    const pool = database.raw as pg.Pool;
    return async (storedKey, now) => {
      await pool.query({ name: 'doorman-rate-limit-refund', text, values: [storedKey, now] });
    };
  }
  const statement = limiterClient(database.raw as SQLite.Database).prepare(text.replace(/\$\d/g, '?'));
  return async (storedKey, now) => {
    statement.run(storedKey, now);
  };
}

function wrap(limiter: RateLimiterAbstract, points: number, refund: Refund): Limiter {
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
        return { allowed: true };
      } catch (error) {
        if (error instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: retryAfter(error.msBeforeNext), firstRefusal: error.consumedPoints === points + 1 };
        throw error;
      }
    },
    async check(key) {
      const state = await limiter.get(key);
      if (state && state.consumedPoints >= points) return { allowed: false, retryAfterSeconds: retryAfter(state.msBeforeNext), firstRefusal: false };
      return { allowed: true };
    },
    async refund(key) {
      await refund(limiter.getKey(key), Date.now());
    },
  };
}

const limiterClients = new WeakMap<SQLite.Database, Pick<SQLite.Database, 'prepare' | 'transaction'>>();

/**
 * The part of better-sqlite3 the limiter uses, made cheap: its few statements are prepared once
 * (it prepares on every call), and its single-statement upserts, atomic on their own, run without
 * the BEGIN/COMMIT around them.
 */
function limiterClient(sqlite: SQLite.Database) {
  let client = limiterClients.get(sqlite);
  if (!client) {
    const statements = new Map<string, SQLite.Statement>();
    client = {
      prepare: ((source: string) => {
        let statement = statements.get(source);
        if (!statement) statements.set(source, (statement = sqlite.prepare(source)));
        return statement;
      }) as SQLite.Database['prepare'],
      transaction: ((work: (...args: unknown[]) => unknown) => work) as SQLite.Database['transaction'],
    };
    limiterClients.set(sqlite, client);
  }
  return client;
}

async function createLimiter(database: OpenDatabase, spec: LimitSpec): Promise<Limiter> {
  // The table comes from migration 0009: several instances starting at once must not race to create it.
  const common = { keyPrefix: spec.name, points: spec.points, duration: spec.durationSeconds, tableName: TABLE, tableCreated: true };
  const limiter = await new Promise<RateLimiterAbstract>((resolve, reject) => {
    let created: RateLimiterAbstract | undefined;
    const ready = (error?: Error) => (error ? reject(error) : queueMicrotask(() => resolve(created as RateLimiterAbstract)));
    created =
      database.kind === 'postgres'
        ? new RateLimiterPostgres({ ...common, storeClient: database.raw as pg.Pool, storeType: 'pool' }, ready)
        : // The limiter shares the Kysely connection: a second SQLite connection would wait synchronously on our own open transaction.
          new RateLimiterSQLite({ ...common, storeClient: limiterClient(database.raw as SQLite.Database), storeType: 'better-sqlite3' }, ready);
  });
  return wrap(limiter, spec.points, refundFor(database));
}

export async function createLimiters<K extends string>(database: OpenDatabase, specs: Record<K, Omit<LimitSpec, 'name'>>): Promise<Record<K, Limiter>> {
  const entries = await Promise.all(
    (Object.entries(specs) as [K, Omit<LimitSpec, 'name'>][]).map(async ([name, spec]) => [name, await createLimiter(database, { name, ...spec })] as const),
  );
  return Object.fromEntries(entries) as Record<K, Limiter>;
}

/** The code-send budgets of flows/ports.ts on the same database. */
export async function createSendLimits(database: OpenDatabase, specs: Record<SendLimitName, Omit<LimitSpec, 'name'>>): Promise<SendLimits> {
  const limiters = await createLimiters<SendLimitName>(database, specs);
  const refund = (keys: readonly SendLimitKey[]) => Promise.all(keys.map(([name, key]) => limiters[name].refund(key))).then(() => undefined);
  return {
    async consume(keys: readonly SendLimitKey[]): Promise<SendLimitDecision> {
      for (let i = 0; i < keys.length; i++) {
        const [name, key] = keys[i]!;
        const decision = await limiters[name].consume(key);
        if (!decision.allowed) {
          // The refused budget counted the attempt too (rate-limiter-flexible does); give all of it back.
          await refund(keys.slice(0, i + 1));
          return { allowed: false, limit: name, retryAfterSeconds: decision.retryAfterSeconds };
        }
      }
      return { allowed: true };
    },
    refund,
  };
}

// A PostgreSQL server of the test's own (initdb into a temporary folder, its own port), so a test can
// stop and restart it without touching the server other runs share.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './harness.js';

const run = promisify(execFile);

export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its files. */
  destroy(): Promise<void>;
}

/** The folder with initdb and pg_ctl: DOORMAN_TEST_PG_BINDIR, or the newest Debian/Ubuntu install. */
function findBinDir(): string | undefined {
  const configured = process.env.DOORMAN_TEST_PG_BINDIR;
  if (configured) return configured;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
}

/** PostgreSQL refuses to run as root; as root, the server runs as the `postgres` system user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Starts a private server, or returns why it cannot (the caller skips and says so). */
export async function startPrivatePostgres(): Promise<PrivatePostgres | string> {
  const bin = findBinDir();
  if (!bin) return 'PostgreSQL restart test skipped: no PostgreSQL server binaries (set DOORMAN_TEST_PG_BINDIR)';
  const user = serverUser();
  if (process.getuid?.() === 0 && !user) return 'PostgreSQL restart test skipped: running as root and there is no postgres user';
  const dir = mkdtempSync(join(tmpdir(), 'doorman-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const pgCtl = (...args: string[]) => run(join(bin, 'pg_ctl'), ['-D', data, ...args], { ...as, timeout: 60_000 });
  await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], { ...as, timeout: 120_000 });
  const start = async () => {
    await pgCtl('-l', join(dir, 'server.log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start');
  };
  // "fast": every client is disconnected at once, as in a real restart or fail-over.
  const stop = async () => {
    await pgCtl('-m', 'fast', '-w', 'stop');
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    async destroy() {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

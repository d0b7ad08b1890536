// Runs the flow and web tests again with every Doorman on PostgreSQL, when TEST_DATABASE_URL names a server.
import { spawnSync } from 'node:child_process';

if (!process.env.TEST_DATABASE_URL) {
  console.log('PostgreSQL flow tests skipped: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run them.');
  process.exit(0);
}
const result = spawnSync('npx', ['vitest', 'run', 'test/flows', 'test/web', 'test/delivery/outbox.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, DOORMAN_TEST_STORE: 'postgres' },
});
process.exit(result.status ?? 1);

// Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests, installing it with apt-get when running as root.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const CHROMIUM = '/usr/bin/chromium';

if (existsSync(CHROMIUM)) process.exit(0);

if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  console.error(`${CHROMIUM} is missing; the browser tests need it. Install it with:\n\n  sudo apt-get install -y chromium\n`);
  process.exit(1);
}

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const apt = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env });

console.log(`${CHROMIUM} is missing; installing Debian's chromium package with apt-get.`);
const update = apt(['update']);
if (update.error) {
  console.error(`Could not run apt-get: ${update.error.message}`);
  process.exit(1);
}
if (update.status !== 0) process.exit(update.status ?? 1);
const install = apt(['install', '-y', 'chromium']);
if (install.error) {
  console.error(`Could not run apt-get: ${install.error.message}`);
  process.exit(1);
}
process.exit(install.status ?? 1);

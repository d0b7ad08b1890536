// The ceiling of password checking: argon2id verifications per second with Doorman's parameters, all cores busy.
// Run with one hashing thread per core (UV_THREADPOOL_SIZE, set by run.mjs), as the server runs
// (src/cli/doorman.cts): more threads than cores share the caches among more 19 MiB buffers, and
// on a 2-core machine Node's default of 4 hashes about 15% slower.
import argon2 from 'argon2';

const options = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 };
const seconds = Number(process.env.DURATION_S ?? 20);
const concurrency = Number(process.env.CONCURRENCY ?? 32);
const hash = await argon2.hash('bench-password-123', options);
const deadline = Date.now() + seconds * 1000;
let done = 0;
const start = Date.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      await argon2.verify(hash, 'bench-password-123');
      done += 1;
    }
  }),
);
const perSecond = done / ((Date.now() - start) / 1000);
const cpu = process.cpuUsage();
process.stdout.write(JSON.stringify({ verificationsPerSecond: perSecond, cpuMsPerVerification: (cpu.user + cpu.system) / 1000 / done }) + '\n');

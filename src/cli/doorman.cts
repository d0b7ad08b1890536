#!/usr/bin/env node
// The `doorman` command: sizes libuv's thread pool, then runs the CLI (main.ts).
import os = require('node:os');

// Argon2 runs on libuv's thread pool, one hash per thread at 19 MiB each. One thread per core keeps
// every core busy hashing without holding more buffers than cores can use at once; Node's default
// of 4 threads on a 2-core machine costs memory and about 15% of hashing throughput (the caches
// are shared by more buffers). The size is read when the pool starts, and loading an ES module
// starts it, so it is set here, in a CommonJS entry point, before the first import. An explicit
// UV_THREADPOOL_SIZE in the environment wins.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, os.availableParallelism()));

import('./main.js').catch((error: unknown) => {
  // A program that cannot load must not exit 0, whatever the process's unhandled-rejection mode.
  process.stderr.write(`doorman: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

// Sizes libuv's thread pool before anything uses it: Argon2 runs there, one hash per thread at 19 MiB each.
import { availableParallelism } from 'node:os';

// One thread per core keeps every core busy hashing without holding more 19 MiB buffers than cores
// can use at once (Node's default of 4 threads on a 2-core machine only adds memory). An explicit
// UV_THREADPOOL_SIZE in the environment wins.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, availableParallelism()));

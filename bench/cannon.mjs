// One autocannon run in a process of its own, so every HTTP figure (the bare-Fastify ceiling and W3)
// is taken by an equally fresh load generator. Settings come as JSON in CANNON; the result goes to stdout.
import autocannon from 'autocannon';

// `requests`: header sets each connection sends in turn (prebuilt, so the load generator pays nothing per request for them).
const { url, connections, duration, headers, requests } = JSON.parse(process.env.CANNON);
const result = await autocannon({ url, connections, duration, headers, requests: requests?.map((extra) => ({ headers: { ...headers, ...extra } })) });
const cpu = process.cpuUsage();
process.stdout.write(
  `${JSON.stringify({ perSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx, count: result.requests.total, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
);

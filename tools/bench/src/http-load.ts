import autocannon from 'autocannon';
import { Percentiles, percentiles } from './stats';

export interface LoadOptions {
  url: string;
  connections: number;
  /** Requests to send in all. */
  amount: number;
  body: string;
}

export interface LoadResult {
  requests: number;
  /** By HTTP status. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  durationMs: number;
  requestsPerSecond: number;
  /** Per-request latency, ms. */
  latencyMs: Percentiles;
  startedAt: number;
  /** CPU the load generator (this process) spent per request, ms: its share of the shared box. */
  generatorCpuMsPerRequest: number;
}

/**
 * POSTs the same JSON body `amount` times over `connections` keep-alive connections
 * (autocannon), recording each response's latency.
 */
export async function postLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const startedAt = Date.now();
  let lastResponseAt = startedAt;
  const cpuBefore = process.cpuUsage();
  const result = await new Promise<autocannon.Result>((resolveRun, rejectRun) => {
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: options.body,
        connections: Math.min(options.connections, options.amount),
        amount: options.amount,
        timeout: 30,
      },
      (error: unknown, finished: autocannon.Result) => (error ? rejectRun(error) : resolveRun(finished)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastResponseAt = Date.now();
      latencies.push(responseTime);
      statuses[String(statusCode)] = (statuses[String(statusCode)] ?? 0) + 1;
    });
  });
  // Up to the last response: autocannon itself only finishes at its next sampling tick (every
  // second), which would add up to a second of nothing to the run.
  const durationMs = Math.max(1, lastResponseAt - startedAt);
  const cpu = process.cpuUsage(cpuBefore);
  return {
    requests: latencies.length,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    durationMs,
    requestsPerSecond: (latencies.length * 1_000) / durationMs,
    latencyMs: percentiles(latencies),
    startedAt,
    generatorCpuMsPerRequest: (cpu.user + cpu.system) / 1_000 / Math.max(1, latencies.length),
  };
}

/** Times `count` sequential GETs of `path()` (ms each); fails on any non-200. */
export async function timeGets(baseUrl: string, path: (index: number) => string, count: number): Promise<Percentiles> {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = process.hrtime.bigint();
    const response = await fetch(`${baseUrl}${path(index)}`);
    await response.arrayBuffer();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (response.status !== 200) {
      throw new Error(`GET ${path(index)} answered ${response.status}`);
    }
  }
  return percentiles(samples);
}

/**
 * POSTs each of `bodies` once (JSON), `connections` requests in flight at a time over keep-alive
 * connections (fetch), recording each response's latency: the load of {@link postLoad} for
 * requests that differ from one another (autocannon sends one body over and over).
 */
export async function postBodies(options: {
  url: string;
  connections: number;
  bodies: readonly string[];
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  const startedAt = Date.now();
  let lastResponseAt = startedAt;
  const cpuBefore = process.cpuUsage();
  const connection = async (): Promise<void> => {
    while (next < options.bodies.length) {
      const body = options.bodies[next];
      next += 1;
      const started = process.hrtime.bigint();
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        await response.arrayBuffer();
        statuses[String(response.status)] = (statuses[String(response.status)] ?? 0) + 1;
      } catch {
        errors += 1;
      }
      lastResponseAt = Date.now();
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.connections, options.bodies.length) }, connection));
  const durationMs = Math.max(1, lastResponseAt - startedAt);
  const cpu = process.cpuUsage(cpuBefore);
  return {
    requests: latencies.length,
    statuses,
    errors,
    timeouts: 0,
    durationMs,
    requestsPerSecond: (latencies.length * 1_000) / durationMs,
    latencyMs: percentiles(latencies),
    startedAt,
    generatorCpuMsPerRequest: (cpu.user + cpu.system) / 1_000 / Math.max(1, latencies.length),
  };
}

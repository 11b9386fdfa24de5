/**
 * What an anonymous flood of large bodies costs the gateway (docs/benchmarks.md, "Anonymous
 * 4 MiB flood"): starts the built gateway alone with an API key configured, then for a while
 * `connections` clients each POST, without a key, a JSON body just under BODY_LIMIT_BYTES —
 * streaming it with backpressure, one TCP connection per request, until the gateway answers or
 * hangs up. Reports responses/s and, per refused request, the gateway's CPU time, the bytes the
 * gateway read and the bytes the client got to send.
 *
 *   npm run bench -- auth-flood [--seconds 20] [--connections 8]
 *   (builds the apps first; or, with the gateway built: SWC_NODE_PROJECT=tsconfig.base.json
 *   node -r @swc-node/register tools/bench/src/auth-flood.ts ...)
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { AppProcess, createTestDatabase, createTestVhost, freePort, waitFor } from '@tasklane/testing';
import { cpuMs, memoryMiB } from './proc-stats';

const BODY_LIMIT_BYTES = 4_194_304;
const START_TIMEOUT_MS = 60_000;
const CHUNK_BYTES = 65_536;

/** Bytes a process has read through read(2)-like calls so far (sockets included), from /proc/<pid>/io. */
function bytesRead(pid: number): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
}

/** A valid JSON enqueue body of exactly `size` bytes (an over-long task name). */
function jsonBody(size: number): Buffer {
  const frame = '{"task_name":""}';
  return Buffer.from(`{"task_name":"${'x'.repeat(size - frame.length)}"}`);
}

/** One anonymous upload: its status (0 if none came) and how many body bytes got out before the answer. */
function upload(port: number, body: Buffer): Promise<{ status: number; sent: number }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let sent = 0;
    let status = 0;
    let answered = false;
    const head = Buffer.from(
      `POST /api/tasks/enqueue HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const pump = (): void => {
      while (!answered && sent < body.length) {
        const chunk = body.subarray(sent, sent + CHUNK_BYTES);
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
    socket.on('data', (chunk: Buffer) => {
      if (!answered) {
        answered = true;
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => resolve({ status, sent }));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '20' }, connections: { type: 'string', default: '8' } },
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const database = await createTestDatabase('flood');
  const vhost = await createTestVhost('flood');
  const port = await freePort();
  const gateway = new AppProcess(
    'api-gateway',
    {
      AMQP_URL: vhost.url,
      DATABASE_URL: database.url,
      PORT: String(port),
      API_KEYS_READ_WRITE: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'log',
    },
    'bench-auth-flood',
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'the gateway to be ready',
      async () => (await fetch(`${baseUrl}/health/ready`).catch(() => null))?.status === 200,
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
    );
    const pid = gateway.pid ?? 0;
    const body = jsonBody(BODY_LIMIT_BYTES);
    const statuses: Record<string, number> = {};
    let responses = 0;
    let bytesSent = 0;
    const cpuBefore = cpuMs(pid);
    const readBefore = bytesRead(pid);
    const startedAt = Date.now();
    const deadline = startedAt + seconds * 1_000;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (Date.now() < deadline) {
          const { status, sent } = await upload(port, body);
          responses += 1;
          bytesSent += sent;
          statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
        }
      }),
    );
    const elapsedMs = Date.now() - startedAt;
    const cpu = cpuMs(pid) - cpuBefore;
    const read = bytesRead(pid) - readBefore;
    const report = {
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
      node: process.version,
      bodyBytes: body.length,
      connections,
      seconds,
      responses,
      statuses,
      responsesPerSecond: Math.round((responses * 1_000) / elapsedMs),
      gatewayCpuMs: Math.round(cpu),
      gatewayCpuMsPerResponse: Number((cpu / Math.max(1, responses)).toFixed(3)),
      gatewayMiBReadPerResponse: Number((read / 2 ** 20 / Math.max(1, responses)).toFixed(3)),
      clientMiBSentPerResponse: Number((bytesSent / 2 ** 20 / Math.max(1, responses)).toFixed(3)),
      gatewayPeakRssMiB: Math.round(memoryMiB(pid).peak),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await gateway.stop('SIGTERM');
    await vhost.delete().catch(() => undefined);
    await database.drop().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

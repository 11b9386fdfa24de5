import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TestDatabase, TestVhost, createTestDatabase, createTestVhost, freePort, waitFor } from '@tasklane/testing';

const ROOT = join(__dirname, '..', '..', '..');
const APPS = ['api-gateway', 'status-tracker', 'worker-email', 'worker-report', 'worker-analytics', 'worker-cleanup'];

/** Lines `npm start` printed for `app` (each app's lines carry its name as a prefix). */
function linesOf(output: string, app: string): string[] {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  return plain.split('\n').filter((line) => line.startsWith(`${app.padEnd(16)} |`));
}

/**
 * What a newcomer does: `npm start` in a terminal, then Ctrl-C. The terminal sends SIGINT to the
 * whole foreground process group, and npm forwards it to its script once more; every app must
 * then drain once and exit 0 — not take the forwarded signal for a second Ctrl-C. (npm itself
 * exits at the first SIGINT; the script it started is what stops the apps, so it is what runs here.)
 */
describe('npm start, then Ctrl-C in its terminal', () => {
  let vhost: TestVhost;
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  /** The apps' pids, from their JSON log lines. */
  const appPids = new Set<number>();

  beforeAll(async () => {
    vhost = await createTestVhost('npm-start');
    db = await createTestDatabase('npm_start');
  });

  afterAll(async () => {
    // The apps run in process groups of their own: a failed run must not leave them behind.
    if (child?.pid !== undefined && child.exitCode === null) {
      child.kill('SIGTERM');
      await waitFor('npm start to stop its apps', () => child?.exitCode !== null, { timeoutMs: 20_000 }).catch(() =>
        child?.kill('SIGKILL'),
      );
    }
    for (const pid of appPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await vhost?.delete();
    await db?.drop();
  });

  it('drains every app once and exits 0', async () => {
    const port = await freePort();
    let output = '';
    child = spawn(process.execPath, [join(ROOT, 'tools', 'scripts', 'start.mjs')], {
      cwd: ROOT,
      // A process group of its own, as a terminal's foreground job.
      detached: true,
      env: { ...process.env, AMQP_URL: vhost.url, DATABASE_URL: db.url, PORT: String(port), LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString();
      output += text;
      for (const [, pid] of text.matchAll(/"pid":(\d+)/g)) {
        appPids.add(Number(pid));
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));

    await waitFor(
      'every app to have started',
      () =>
        linesOf(output, 'api-gateway').some((line) => line.includes('listening on port')) &&
        APPS.slice(1).every((app) => linesOf(output, app).some((line) => line.includes(`${app} started`))),
      { timeoutMs: 150_000, intervalMs: 250 },
    );
    // Listening comes before the gateway's broker connection: ready once both are there.
    await waitFor(
      'the gateway to be ready',
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200,
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    const pid = child.pid as number;
    process.kill(-pid, 'SIGINT'); // the terminal's Ctrl-C, to the process group
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.kill(pid, 'SIGINT'); // npm forwarding it
    const code = await exited;

    expect({ code, output: code === 0 ? '' : output.slice(-4_000) }).toEqual({ code: 0, output: '' });
    for (const app of APPS) {
      const lines = linesOf(output, app);
      expect({ app, drains: lines.filter((line) => line.includes('received: shutting down')).length }).toEqual({
        app,
        drains: 1,
      });
      expect(lines.filter((line) => line.includes('again: exiting without waiting'))).toEqual([]);
    }
    expect(output).not.toContain('exited unexpectedly');
    expect(output).not.toContain('did not stop cleanly');
    for (const app of APPS) {
      expect(output).toContain(`■ ${app} stopped`);
    }
  }, 200_000);
});

import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';

const WORKSPACE_ROOT = resolve(__dirname, '../../../..');
export const E2E_LOG_DIR = join(WORKSPACE_ROOT, 'tmp', 'e2e-logs');

/**
 * One built Tasklane app (`dist/apps/<name>/main.js`) running as a separate process, with its
 * output kept in memory and in `tmp/e2e-logs/<label>.log` for post-mortems.
 */
export class AppProcess {
  private readonly child: ChildProcess;
  private readonly log: WriteStream;
  private readonly exited: Promise<number | null>;
  private output = '';

  constructor(
    readonly name: string,
    env: Record<string, string>,
    readonly label: string = name,
    /** Options for node itself (e.g. `--cpu-prof`), before the app's main. */
    nodeOptions: readonly string[] = [],
  ) {
    mkdirSync(E2E_LOG_DIR, { recursive: true });
    this.log = createWriteStream(join(E2E_LOG_DIR, `${label}.log`), { flags: 'a' });
    this.child = spawn(process.execPath, [...nodeOptions, join(WORKSPACE_ROOT, 'dist', 'apps', name, 'main.js')], {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString();
      this.log.write(chunk);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolveExit) => this.child.once('exit', (code) => resolveExit(code)));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logs(): string {
    return this.output;
  }

  /** Sends `signal` and waits for the exit; returns the exit code (null when killed by a signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> {
    if (!this.running) {
      return this.child.exitCode;
    }
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      this.log.end();
    }
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }
}

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@tasklane/config';
import { TaskName } from '@tasklane/contracts';
import { TaskContext } from '../handlers/task-handler';
import { WorkerEnv } from '../worker.env';
import { SleepHandler } from './sleep.handler';

function contextWith(signal: AbortSignal, taskId = 't', retryCount = 0): TaskContext {
  return { taskId, taskName: TaskName.DiagnosticSleep, retryCount, maxRetries: 2, priority: 5, signal };
}

function handler(env: Record<string, string> = {}): SleepHandler {
  return new SleepHandler(loadConfig(WorkerEnv, env));
}

describe('SleepHandler', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('returns {slept_ms} once the time has passed, not before', async () => {
    let settled = false;
    const running = handler()
      .run({ ms: 1_000 }, contextWith(new AbortController().signal))
      .finally(() => (settled = true));

    await jest.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await expect(running).resolves.toEqual({ slept_ms: 1_000 });
  });

  it('rejects as soon as its signal aborts', async () => {
    const controller = new AbortController();
    const running = handler().run({ ms: 60_000 }, contextWith(controller.signal));

    await jest.advanceTimersByTimeAsync(250);
    controller.abort();
    await expect(running).rejects.toThrow('sleep aborted after 250 ms');
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('SleepHandler with DIAGNOSTIC_EXECUTION_LOG', () => {
  let dir: string;
  let log: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tasklane-sleep-'));
    log = join(dir, 'executions.log');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends `task_id retry_count pid` for each finished execution', async () => {
    const sleep = handler({ DIAGNOSTIC_EXECUTION_LOG: log });
    await sleep.run({ ms: 1 }, contextWith(new AbortController().signal, 'task-a', 0));
    await sleep.run({ ms: 1 }, contextWith(new AbortController().signal, 'task-b', 2));

    expect(await readFile(log, 'utf8')).toBe(`task-a 0 ${process.pid}\ntask-b 2 ${process.pid}\n`);
  });

  it('appends nothing for an aborted execution', async () => {
    const controller = new AbortController();
    const running = handler({ DIAGNOSTIC_EXECUTION_LOG: log }).run({ ms: 60_000 }, contextWith(controller.signal));
    controller.abort();

    await expect(running).rejects.toThrow(/sleep aborted/);
    await expect(readFile(log, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@tasklane/config';
import { TaskName } from '@tasklane/contracts';
import { TaskContext } from '../handlers/task-handler';
import { WorkerEnv } from '../worker.env';
import { DiagnosticTasksService } from './diagnostic-tasks.service';

function contextWith(signal: AbortSignal, taskId = 't', retryCount = 0): TaskContext {
  return {
    taskId,
    taskName: TaskName.DiagnosticSleep,
    retryCount,
    maxRetries: 2,
    priority: 5,
    signal,
    progress: () => undefined,
  };
}

function diagnostics(env: Record<string, string> = {}): DiagnosticTasksService {
  return new DiagnosticTasksService(loadConfig(WorkerEnv, env));
}

describe('DiagnosticTasksService.sleep', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('returns {slept_ms} once the time has passed, not before', async () => {
    let settled = false;
    const running = diagnostics()
      .sleep({ ms: 1_000 }, contextWith(new AbortController().signal))
      .finally(() => (settled = true));

    await jest.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await expect(running).resolves.toEqual({ slept_ms: 1_000 });
  });

  it('rejects as soon as its signal aborts', async () => {
    const controller = new AbortController();
    const running = diagnostics().sleep({ ms: 60_000 }, contextWith(controller.signal));

    await jest.advanceTimersByTimeAsync(250);
    controller.abort();
    await expect(running).rejects.toThrow('sleep aborted after 250 ms');
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('DiagnosticTasksService.sleep with DIAGNOSTIC_EXECUTION_LOG', () => {
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
    const tasks = diagnostics({ DIAGNOSTIC_EXECUTION_LOG: log });
    await tasks.sleep({ ms: 1 }, contextWith(new AbortController().signal, 'task-a', 0));
    await tasks.sleep({ ms: 1 }, contextWith(new AbortController().signal, 'task-b', 2));

    expect(await readFile(log, 'utf8')).toBe(`task-a 0 ${process.pid}\ntask-b 2 ${process.pid}\n`);
  });

  it('appends nothing for an aborted execution', async () => {
    const controller = new AbortController();
    const running = diagnostics({ DIAGNOSTIC_EXECUTION_LOG: log }).sleep(
      { ms: 60_000 },
      contextWith(controller.signal),
    );
    controller.abort();

    await expect(running).rejects.toThrow(/sleep aborted/);
    await expect(readFile(log, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('DiagnosticTasksService.fail', () => {
  it.each(['boom', 'a longer message: with details'])('rejects with params.message %p', async (message) => {
    await expect(diagnostics().fail({ message })).rejects.toThrow(new Error(message));
  });
});

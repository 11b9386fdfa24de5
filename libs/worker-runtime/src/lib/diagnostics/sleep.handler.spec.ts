import { TaskName } from '@tasklane/contracts';
import { TaskContext } from '../handlers/task-handler';
import { SleepHandler } from './sleep.handler';

function contextWith(signal: AbortSignal): TaskContext {
  return { taskId: 't', taskName: TaskName.DiagnosticSleep, retryCount: 0, maxRetries: 0, priority: 5, signal };
}

describe('SleepHandler', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('returns {slept_ms} once the time has passed, not before', async () => {
    let settled = false;
    const running = new SleepHandler()
      .run({ ms: 1_000 }, contextWith(new AbortController().signal))
      .finally(() => (settled = true));

    await jest.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await expect(running).resolves.toEqual({ slept_ms: 1_000 });
  });

  it('rejects as soon as its signal aborts', async () => {
    const controller = new AbortController();
    const running = new SleepHandler().run({ ms: 60_000 }, contextWith(controller.signal));

    await jest.advanceTimersByTimeAsync(250);
    controller.abort();
    await expect(running).rejects.toThrow('sleep aborted after 250 ms');
    expect(jest.getTimerCount()).toBe(0);
  });
});

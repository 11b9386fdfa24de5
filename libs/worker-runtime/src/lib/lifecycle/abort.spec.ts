import { HandlerAbandonedError, TaskCancelledError, TaskTimeoutError, abandonAfterAbort } from './abort';

const GRACE_MS = 500;

/** A promise settled from outside, like a handler's work. */
function work<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Where a promise stands, without waiting for it. */
function track<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const tracked: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(tracked, { state: 'resolved', value }),
    (error: unknown) => Object.assign(tracked, { state: 'rejected', error }),
  );
  return tracked;
}

/** Lets promise callbacks run (fake timers do not advance them). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) {
    await Promise.resolve();
  }
}

describe('abandonAfterAbort', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('resolves with the value of a work that is never aborted, leaving no timer behind', async () => {
    const controller = new AbortController();
    const handler = work<string>();
    const result = abandonAfterAbort(handler.promise, controller.signal, GRACE_MS);
    handler.resolve('done');
    await expect(result).resolves.toBe('done');
    expect(jest.getTimerCount()).toBe(0);

    // An abort after the work settled changes nothing and starts no grace timer.
    controller.abort(new Error('too late'));
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects with the error of a work that fails on its own', async () => {
    const controller = new AbortController();
    const handler = work<string>();
    const result = abandonAfterAbort(handler.promise, controller.signal, GRACE_MS);
    const boom = new Error('boom');
    handler.reject(boom);
    await expect(result).rejects.toBe(boom);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('waits for a work that ignores the abort until the grace is over, then rejects with HandlerAbandonedError', async () => {
    const controller = new AbortController();
    const handler = work<string>();
    const result = track(abandonAfterAbort(handler.promise, controller.signal, GRACE_MS));

    controller.abort(new TaskTimeoutError(300));
    await jest.advanceTimersByTimeAsync(GRACE_MS - 1);
    await flush();
    expect(result.state).toBe('pending');

    await jest.advanceTimersByTimeAsync(1);
    await flush();
    expect(result.state).toBe('rejected');
    expect(result.error).toBeInstanceOf(HandlerAbandonedError);
    expect(result.error).toMatchObject({
      name: 'HandlerAbandonedError',
      message: 'the task timed out after 300 ms (the handler ignored the abort for 500 ms)',
    });

    // The abandoned work settling later is ignored (and handled: no unhandled rejection).
    handler.reject(new Error('finally stopped'));
    await flush();
    expect(result.state).toBe('rejected');
    expect(result.error).toBeInstanceOf(HandlerAbandonedError);
  });

  it('resolves normally when an aborted work still finishes within the grace', async () => {
    const controller = new AbortController();
    const handler = work<number>();
    const result = abandonAfterAbort(handler.promise, controller.signal, GRACE_MS);

    controller.abort(new TaskCancelledError());
    await jest.advanceTimersByTimeAsync(GRACE_MS - 100);
    handler.resolve(42);
    await expect(result).resolves.toBe(42);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects with the own error of a work that stops on abort, at once, not with HandlerAbandonedError', async () => {
    const controller = new AbortController();
    const stopped = new Error('aborted by the handler');
    const honouring = new Promise<string>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(stopped), { once: true });
    });
    const result = track(abandonAfterAbort(honouring, controller.signal, GRACE_MS));

    controller.abort(new TaskCancelledError());
    await flush();
    expect(result).toEqual({ state: 'rejected', error: stopped });
    // The grace timer is gone: nothing else happens later.
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(GRACE_MS * 2);
    expect(result.error).toBe(stopped);
  });

  it('starts the grace at once for a signal aborted before the work was handed over', async () => {
    const controller = new AbortController();
    controller.abort('shutting down');
    const handler = work<string>();
    const result = track(abandonAfterAbort(handler.promise, controller.signal, GRACE_MS));

    await jest.advanceTimersByTimeAsync(GRACE_MS);
    await flush();
    expect(result.state).toBe('rejected');
    // A reason that is not an Error is described as text.
    expect((result.error as Error).message).toBe('shutting down (the handler ignored the abort for 500 ms)');
  });

  it('with a grace of 0, abandons an ignoring work right after the abort', async () => {
    const controller = new AbortController();
    const handler = work<string>();
    const result = track(abandonAfterAbort(handler.promise, controller.signal, 0));
    await flush();
    expect(result.state).toBe('pending');

    controller.abort(new TaskCancelledError());
    await jest.advanceTimersByTimeAsync(0);
    await flush();
    expect(result.state).toBe('rejected');
    expect((result.error as Error).message).toBe('the task was cancelled (the handler ignored the abort for 0 ms)');
  });
});

describe('the abort reasons', () => {
  it('say what happened', () => {
    expect(new TaskTimeoutError(1_500)).toMatchObject({
      name: 'TaskTimeoutError',
      message: 'the task timed out after 1500 ms',
      timeoutMs: 1_500,
    });
    expect(new TaskCancelledError()).toMatchObject({ name: 'TaskCancelledError', message: 'the task was cancelled' });
    expect(new HandlerAbandonedError(new Error('why'), 10)).toBeInstanceOf(Error);
  });
});

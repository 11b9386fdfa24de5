import { ServiceUnavailableException } from '@nestjs/common';
import { TaskWaiters } from './task-waiters';

function waitersWith(finished: Set<string> | (() => Promise<Set<string>>), maxClients = 10_000) {
  const lookups: string[][] = [];
  const waiters = new TaskWaiters(
    {
      finishedAmong: (taskIds) => {
        lookups.push([...taskIds]);
        return typeof finished === 'function' ? finished() : Promise.resolve(new Set(finished));
      },
    },
    { TASK_WAIT_POLL_INTERVAL_MS: 200, TASK_WAIT_MAX_CLIENTS: maxClients },
  );
  return { waiters, lookups };
}

const settledAfter = async (promise: Promise<void>, ms: number) => {
  let settled = false;
  void promise.then(() => (settled = true));
  await jest.advanceTimersByTimeAsync(ms);
  return settled;
};

describe('TaskWaiters', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('1,000 clients waiting cost one lookup per interval, not one each', async () => {
    const finished = new Set<string>();
    const { waiters, lookups } = waitersWith(finished);
    const waits = Array.from({ length: 1_000 }, (_, index) => waiters.wait(`task-${index % 250}`, 30_000));
    expect(waiters.size).toBe(1_000);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(lookups).toHaveLength(5);
    expect(lookups[0]).toHaveLength(250);

    finished.add('task-7');
    await jest.advanceTimersByTimeAsync(200);
    expect(waiters.size).toBe(996);
    await expect(Promise.race([waits[7], Promise.resolve('pending')])).resolves.toBeUndefined();
    await expect(Promise.race([waits[8], Promise.resolve('pending')])).resolves.toBe('pending');
  });

  it('answers at the timeout when the task does not finish, and stops looking once nobody waits', async () => {
    const { waiters, lookups } = waitersWith(new Set());
    const wait = waiters.wait('task-a', 1_000);
    expect(await settledAfter(wait, 900)).toBe(false);
    expect(await settledAfter(wait, 200)).toBe(true);
    const before = lookups.length;
    await jest.advanceTimersByTimeAsync(5_000);
    expect(lookups.length).toBe(before);
    expect(waiters.size).toBe(0);
  });

  it('a client that leaves is taken out at once', async () => {
    const { waiters } = waitersWith(new Set());
    const left = new AbortController();
    const wait = waiters.wait('task-a', 30_000, left.signal);
    left.abort();
    expect(await settledAfter(wait, 0)).toBe(true);
    expect(waiters.size).toBe(0);
  });

  it('keeps the clients waiting while the database is away', async () => {
    let away = true;
    const { waiters } = waitersWith(() => (away ? Promise.reject(new Error('down')) : Promise.resolve(new Set(['t']))));
    const wait = waiters.wait('t', 30_000);
    expect(await settledAfter(wait, 1_000)).toBe(false);
    away = false;
    expect(await settledAfter(wait, 200)).toBe(true);
  });

  it('refuses a client beyond TASK_WAIT_MAX_CLIENTS with a 503', () => {
    const { waiters } = waitersWith(new Set(), 2);
    void waiters.wait('a', 1_000);
    void waiters.wait('b', 1_000);
    expect(() => waiters.wait('c', 1_000)).toThrow(ServiceUnavailableException);
  });

  it('answers everyone when the gateway shuts down', async () => {
    const { waiters } = waitersWith(new Set());
    const waits = [waiters.wait('a', 30_000), waiters.wait('a', 30_000), waiters.wait('b', 30_000)];
    waiters.onApplicationShutdown();
    await expect(Promise.all(waits)).resolves.toEqual([undefined, undefined, undefined]);
    expect(waiters.size).toBe(0);
    expect(await settledAfter(waiters.wait('c', 30_000), 0)).toBe(true);
  });
});

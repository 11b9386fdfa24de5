import { SlotPool } from './slot-pool';

describe('SlotPool', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('grants up to its size at once, then makes deliveries wait', async () => {
    const pool = new SlotPool(2);
    await expect(pool.acquire(1_000)).resolves.toBe('granted');
    await expect(pool.acquire(1_000)).resolves.toBe('granted');
    let third: string | undefined;
    void pool.acquire(1_000).then((grant) => (third = grant));
    await Promise.resolve();
    expect(third).toBeUndefined();
    expect(pool.inUse).toBe(2);
  });

  it('passes a released slot to the delivery waiting longest', async () => {
    const pool = new SlotPool(1);
    await pool.acquire(1_000);
    const order: string[] = [];
    const first = pool.acquire(1_000).then((grant) => order.push(`first:${grant}`));
    const second = pool.acquire(1_000).then((grant) => order.push(`second:${grant}`));
    pool.release();
    await first;
    expect(order).toEqual(['first:granted']);
    pool.release();
    await second;
    expect(order).toEqual(['first:granted', 'second:granted']);
    pool.release();
    expect(pool.inUse).toBe(0);
  });

  it('gives up on a wait after maxWaitMs, so the delivery can go back to the broker', async () => {
    const pool = new SlotPool(1);
    await pool.acquire(1_000);
    const waiting = pool.acquire(500);
    jest.advanceTimersByTime(499);
    let settled = false;
    void waiting.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    jest.advanceTimersByTime(1);
    await expect(waiting).resolves.toBe('timeout');
    // The timed-out waiter does not take the slot when it frees.
    pool.release();
    expect(pool.inUse).toBe(0);
  });

  it('tells waiting and later deliveries `closed` once closed', async () => {
    const pool = new SlotPool(1);
    await pool.acquire(1_000);
    const waiting = pool.acquire(1_000);
    pool.close();
    await expect(waiting).resolves.toBe('closed');
    await expect(pool.acquire(1_000)).resolves.toBe('closed');
  });
});

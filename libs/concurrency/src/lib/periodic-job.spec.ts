import { PeriodicJob } from './periodic-job';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('PeriodicJob', () => {
  it('never runs twice at once, reports failures and runs again at the next tick', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const errors: unknown[] = [];
    const job = new PeriodicJob(
      5,
      async () => {
        runs += 1;
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await sleep(20);
        running -= 1;
        if (runs === 1) {
          throw new Error('first run fails');
        }
      },
      (error) => errors.push(error),
    );
    job.start();
    await sleep(120);
    await job.stop();
    expect(maxRunning).toBe(1);
    expect(runs).toBeGreaterThan(1);
    expect(errors).toEqual([new Error('first run fails')]);
  });

  it('stop() waits for the run in progress and no run starts after it', async () => {
    let finished = false;
    let runs = 0;
    const job = new PeriodicJob(
      5,
      async () => {
        runs += 1;
        await sleep(40);
        finished = true;
      },
      () => undefined,
    );
    job.start();
    await sleep(10);
    expect(job.running).toBe(true);
    await job.stop();
    expect(finished).toBe(true);
    const after = runs;
    await sleep(30);
    expect(runs).toBe(after);
  });
});

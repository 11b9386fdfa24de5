import { Queue, TaskType } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { FAULT_ENV, faultScenario, logLines, randomBetween, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const RECLAIMED = '"lease expired: task handed back to the queue"';

describe('fault: two status trackers, workers and trackers killed', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-p', { apps: ['api-gateway', 'worker-cleanup'], env: FAULT_ENV });
    await system.startApp('status-tracker', {}, 'one');
    await system.startApp('status-tracker', {}, 'two');
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('p. two trackers; workers SIGKILLed, one tracker SIGKILLed, the other restarted', async (scenario) => {
    expect(await system.consumers(Queue.StatusTracker)).toBe(2);
    const load = startLoad(system, {
      count: 200,
      concurrency: 4,
      ratePerSecond: 12,
      taskType: TaskType.Cleanup,
      sleepMs: [100, 400],
    });
    let killedWhileRunning = 0;
    const killWorker = async (): Promise<void> => {
      await waitFor('the worker to run tasks', () => tasksInFlight(system.apps.get('worker-cleanup')) > 0, {
        timeoutMs: 20_000,
        intervalMs: 20,
      });
      killedWhileRunning += tasksInFlight(system.apps.get('worker-cleanup'));
      await system.killApp('worker-cleanup');
      await system.startApp('worker-cleanup');
    };
    await sleep(randomBetween(1_000, 2_000));
    await killWorker();
    // One tracker dies without a word: its unacked events go to the other.
    await system.killApp('status-tracker', 'one');
    await sleep(randomBetween(500, 1_500));
    await killWorker();
    await system.startApp('status-tracker', {}, 'one');
    // The other is rolled (SIGTERM, then started again) while the first is back.
    const exitCode = await system.stopApp('status-tracker', 'two');
    await killWorker();
    await system.startApp('status-tracker', {}, 'two');
    await load.done;
    const figures = await scenario.check(system, { accepted: load.accepted });
    const reclaimed = ['one', 'two'].map(
      (replica) => logLines(system.apps.get(TasklaneSystem.appKey('status-tracker', replica)), RECLAIMED).length,
    );
    scenario.note(
      `3 worker SIGKILLs with ${killedWhileRunning} tasks in flight; leases reclaimed by tracker one/two (after their restarts): ${reclaimed.join('/')}`,
    );
    scenario.note(load.summary());
    expect(exitCode).toBe(0);
    expect(killedWhileRunning).toBeGreaterThan(0);
    expect(figures.handedBack).toBeGreaterThan(0);
    expect(await system.consumers(Queue.StatusTracker)).toBe(2);
  });
});

import { TaskType } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { CORE_APPS, FAULT_ENV, faultScenario, randomBetween, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const KILLS = 5;

describe('fault: a worker killed with SIGKILL mid-task, again and again', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-a', { apps: [...CORE_APPS, 'worker-cleanup'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario(`a. worker SIGKILLed mid-task ×${KILLS} under load`, async (scenario) => {
    const load = startLoad(system, {
      count: 150,
      concurrency: 4,
      ratePerSecond: 12,
      taskType: TaskType.Cleanup,
      sleepMs: [100, 400],
    });
    let killedWhileRunning = 0;
    for (let kill = 0; kill < KILLS; kill += 1) {
      await sleep(randomBetween(300, 1_500));
      // Kill it while it runs tasks (it always does under this load, once it is consuming again).
      await waitFor('the worker to run tasks', () => tasksInFlight(system.apps.get('worker-cleanup')) > 0, {
        timeoutMs: 20_000,
        intervalMs: 20,
      });
      await sleep(randomBetween(0, 150));
      killedWhileRunning += tasksInFlight(system.apps.get('worker-cleanup'));
      await system.killApp('worker-cleanup');
      await system.startApp('worker-cleanup');
    }
    await load.done;
    const figures = await scenario.check(system, { accepted: load.accepted });
    scenario.note(`${KILLS} SIGKILLs with ${killedWhileRunning} tasks in flight in total`);
    scenario.note(load.summary());
    // The kills really took tasks down with them, and the reconciler handed those back.
    expect(killedWhileRunning).toBeGreaterThan(0);
    expect(figures.handedBack).toBeGreaterThan(0);
  });
});

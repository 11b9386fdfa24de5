import { TaskStatus, TaskType } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { CORE_APPS, FAULT_ENV, faultScenario, randomBetween, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const MAX_RUNNING = 3;
const KILLS = 3;
const LIMITED_ENV = { WORKER_CONCURRENCY: '4', TASK_TYPE_MAX_RUNNING: String(MAX_RUNNING) };

describe('fault: replicas under a concurrency limit, one SIGKILLed again and again', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-t', { apps: [...CORE_APPS], env: FAULT_ENV });
    await system.startApp('worker-report', LIMITED_ENV, 'one');
    await system.startApp('worker-report', LIMITED_ENV, 'two');
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario(
    `t. two replicas under TASK_TYPE_MAX_RUNNING=${MAX_RUNNING}, one SIGKILLed ×${KILLS}: the limit holds throughout`,
    async (scenario) => {
      const load = startLoad(system, {
        count: 120,
        concurrency: 4,
        ratePerSecond: 25,
        taskType: TaskType.Report,
        sleepMs: [150, 400],
      });
      // The limit as the table sees it, sampled all along: the killed replica's running rows count
      // until the reconciler hands them back, so it must never be exceeded, crash or not.
      let sampling = true;
      let most = 0;
      let samples = 0;
      const sampler = (async () => {
        while (sampling) {
          const [{ n }] = await system.query<{ n: number }>(
            `SELECT COUNT(*) AS n FROM background_tasks WHERE task_type = ? AND status = '${TaskStatus.Running}'`,
            [TaskType.Report],
          );
          most = Math.max(most, Number(n));
          samples += 1;
          await sleep(20);
        }
      })();
      const key = TasklaneSystem.appKey('worker-report', 'one');
      let killedWhileRunning = 0;
      for (let kill = 0; kill < KILLS; kill += 1) {
        await sleep(randomBetween(500, 1_500));
        await waitFor('replica one to run tasks', () => tasksInFlight(system.apps.get(key)) > 0, {
          timeoutMs: 20_000,
          intervalMs: 20,
        });
        killedWhileRunning += tasksInFlight(system.apps.get(key));
        await system.killApp('worker-report', 'one');
        await system.startApp('worker-report', LIMITED_ENV, 'one');
      }
      await load.done;
      const figures = await scenario.check(system, { accepted: load.accepted });
      sampling = false;
      await sampler;
      scenario.note(
        `${KILLS} SIGKILLs of replica one with ${killedWhileRunning} tasks in flight in total; running tasks of the ` +
          `type at most ${most} in ${samples} samples (limit ${MAX_RUNNING})`,
      );
      scenario.note(load.summary());
      expect(killedWhileRunning).toBeGreaterThan(0);
      expect(figures.handedBack).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(MAX_RUNNING);
      // And the limit was what held the work back: it was reached.
      expect(most).toBe(MAX_RUNNING);
    },
  );
});

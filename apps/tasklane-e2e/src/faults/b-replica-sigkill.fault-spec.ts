import { TaskType } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { readExecutions } from '../support/execution-log';
import { CORE_APPS, FAULT_ENV, faultScenario, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

describe('fault: one of two worker replicas killed with SIGKILL', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-b', { apps: [...CORE_APPS], env: FAULT_ENV });
    await system.startApp('worker-report', {}, 'one');
    await system.startApp('worker-report', {}, 'two');
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('b. two replicas, one SIGKILLed mid-run', async (scenario) => {
    const load = startLoad(system, {
      count: 120,
      concurrency: 4,
      ratePerSecond: 20,
      taskType: TaskType.Report,
      sleepMs: [100, 400],
    });
    const one = system.apps.get(TasklaneSystem.appKey('worker-report', 'one'));
    const two = system.apps.get(TasklaneSystem.appKey('worker-report', 'two'));
    await sleep(2_000);
    await waitFor('replica one to run tasks', () => tasksInFlight(one) >= 2, { timeoutMs: 20_000, intervalMs: 20 });
    const inFlight = tasksInFlight(one);
    await system.killApp('worker-report', 'one');
    await load.done;
    const figures = await scenario.check(system, { accepted: load.accepted });

    // Everything the dead replica held was handed back and finished by the survivor: its last run
    // (a task whose handler ended in the killed replica before its outcome was committed ran there
    // first).
    const survivor = two?.pid;
    const executions = readExecutions(system.executionLog);
    const handedBack = [...figures.rows.values()].filter((row) => row.attempt > 1).map((row) => row.task_id);
    const finishedBySurvivor = handedBack.filter((id) => executions.get(id)?.at(-1)?.pid === survivor).length;
    scenario.note(
      `replica one killed with ${inFlight} tasks in flight; the survivor ran ${finishedBySurvivor} of them`,
    );
    scenario.note(load.summary());
    expect(inFlight).toBeGreaterThan(0);
    expect(figures.handedBack).toBeGreaterThan(0);
    expect(finishedBySurvivor).toBe(handedBack.length);
  });
});

import { TaskType } from '@tasklane/contracts';
import { CORE_APPS, FAULT_ENV, faultScenario, logLines, mixedSleeps, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { ensureServicesUp, restartMariaDb, sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const DATABASE_DOWN_MS = 5_000;
/** Longer than a lease: it cannot finish before the database is gone. */
const SPANNING_TASK_MS = 6_000;

describe("fault: the machine's MariaDB restarted under load", () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-e', { apps: [...CORE_APPS, 'worker-email'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await ensureServicesUp();
    await system?.stop();
  });

  faultScenario('e. MariaDB restarted under load', async (scenario) => {
    const load = startLoad(system, {
      count: 200,
      concurrency: 4,
      ratePerSecond: 12,
      taskType: TaskType.Email,
      sleepMs: mixedSleeps(),
    });
    await sleep(3_000);
    // A task still running when the database goes: its worker cannot renew the lease, gives the
    // task up by itself, and the reconciler hands it back once the database returns.
    const spanning = await system.enqueue({
      task_name: 'diagnostic.sleep',
      task_type: TaskType.Email,
      params: { ms: SPANNING_TASK_MS },
    });
    await system.waitForTask(spanning.task_id, (task) => task.status === 'running');
    const worker = system.apps.get('worker-email');
    const inFlight = tasksInFlight(worker);
    const acceptedBefore = load.enqueued;
    const outage = await restartMariaDb(DATABASE_DOWN_MS);
    const acceptedDuring = load.enqueued - acceptedBefore;
    await load.done;
    const figures = await scenario.check(system, { accepted: [...load.accepted, spanning.task_id] });
    const leasesLost = logLines(worker, 'task lease lost').length;
    const requeued = logLines(worker, 'database unavailable; requeueing the task').length;
    scenario.note(
      `database down ${Math.round((outage.upAt - outage.downAt) / 1000)} s (shutdown, start) with ${inFlight} tasks running; ` +
        `${acceptedDuring} accepted meanwhile; ${leasesLost} leases given up by the worker, ${requeued} deliveries requeued`,
    );
    scenario.note(load.summary());
    expect(load.unavailable + load.failedRequests).toBeGreaterThan(0);
    expect(leasesLost).toBeGreaterThan(0);
    expect(figures.rows.get(spanning.task_id)?.attempt).toBeGreaterThan(1);
  });
});

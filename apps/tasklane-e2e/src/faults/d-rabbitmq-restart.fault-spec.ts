import { TaskType } from '@tasklane/contracts';
import { CORE_APPS, FAULT_ENV, faultScenario, logLines, mixedSleeps, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { ensureServicesUp, restartRabbitMq, sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const BROKER_DOWN_MS = 5_000;
/** Shorter than the outage: it ends while RabbitMQ is down. */
const SPANNING_TASK_MS = 4_000;

describe("fault: the machine's RabbitMQ restarted under load", () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-d', {
      apps: [...CORE_APPS, 'worker-analytics'],
      env: FAULT_ENV,
    });
  });

  afterAll(async () => {
    await ensureServicesUp();
    await system?.stop();
  });

  faultScenario('d. RabbitMQ restarted under load', async (scenario) => {
    const load = startLoad(system, {
      count: 200,
      concurrency: 4,
      ratePerSecond: 12,
      taskType: TaskType.Analytics,
      sleepMs: mixedSleeps(),
    });
    await sleep(3_000);
    // A task that finishes while the broker is away: its outcome has to wait for it.
    const spanning = await system.enqueue({
      task_name: 'diagnostic.sleep',
      task_type: TaskType.Analytics,
      params: { ms: SPANNING_TASK_MS },
    });
    await system.waitForTask(spanning.task_id, (task) => task.status === 'running');
    const worker = system.apps.get('worker-analytics');
    const inFlight = tasksInFlight(worker);
    const acceptedBefore = load.enqueued;
    const outage = await restartRabbitMq(BROKER_DOWN_MS);
    const acceptedDuring = load.enqueued - acceptedBefore;
    await load.done;
    await scenario.check(system, { accepted: [...load.accepted, spanning.task_id] });
    const gateway = system.apps.get('api-gateway');
    const tracker = system.apps.get('status-tracker');
    const relayed = logLines(tracker, '"task command relayed from the outbox"').length;
    const publishFailed = logLines(gateway, '"publish failed after the commit').length;
    const outcomeRetries = logLines(worker, 'broker unavailable; retrying the outcome').length;
    scenario.note(
      `broker down ${Math.round((outage.upAt - outage.downAt) / 1000)} s (stop_app/start_app) with ${inFlight} tasks running; ` +
        `${acceptedDuring} accepted during the restart; ${publishFailed} publishes failed after commit, ${relayed} relayed from the outbox, ` +
        `${outcomeRetries} outcome publishes retried`,
    );
    scenario.note(load.summary());
    // The outage was real for the apps: the gateway refused enqueues while RabbitMQ was away.
    expect(load.unavailable + load.failedRequests).toBeGreaterThan(0);
    expect(logLines(worker, 'connection to RabbitMQ lost').length).toBeGreaterThan(0);
    expect(outcomeRetries).toBeGreaterThan(0);
  });
});

import { TASK_TYPES } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { FAULT_ENV, faultScenario, logLines, randomBetween, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { AppName, TasklaneSystem, WORKER_OF } from '../support/tasklane-system';

const GRACE_MS = Number(FAULT_ENV['SHUTDOWN_GRACE_MS']);
/** After the grace period: releasing unfinished claims and closing connections. */
const CLOSE_MARGIN_MS = 1_500;
const LONG_TASK_MS = 8_000;

describe('fault: every app stopped with SIGTERM under load, then started again', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-f', { env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('f. SIGTERM to every app under load, then restart', async (scenario) => {
    // Mostly short tasks, and some longer than the shutdown grace: those are handed back.
    const load = startLoad(system, {
      count: 240,
      concurrency: 6,
      ratePerSecond: 16,
      taskType: [...TASK_TYPES],
      sleepMs: () => (Math.random() < 1 / 20 ? LONG_TASK_MS : randomBetween(100, 400)),
    });
    const workers = Object.values(WORKER_OF);
    await sleep(4_000);
    await waitFor(
      'a task longer than the grace to run',
      async () => {
        const [{ n }] = await system.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM background_tasks WHERE status = 'running' AND JSON_VALUE(params, '$.ms') = ?",
          [LONG_TASK_MS],
        );
        return Number(n) > 0;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const inFlight = workers.reduce((sum, worker) => sum + tasksInFlight(system.apps.get(worker)), 0);
    const processes = [...system.apps.entries()];
    const stopped = await Promise.all(
      processes.map(async ([key]) => {
        const started = Date.now();
        const code = await system.stopApp(key as AppName);
        return { app: key, code, ms: Date.now() - started };
      }),
    );
    const handedBack = processes.reduce((sum, [, process]) => sum + logLines(process, '"task handed back"').length, 0);
    await sleep(2_000);
    await Promise.all(processes.map(([key]) => system.startApp(key as AppName)));
    await load.done;
    await scenario.check(system, { accepted: load.accepted, timeoutMs: 90_000 });
    const slowest = stopped.reduce((a, b) => (a.ms > b.ms ? a : b));
    scenario.note(
      `SIGTERM to ${stopped.length} apps with ${inFlight} tasks running: all exited ${[...new Set(stopped.map((s) => s.code))].join('/')}, ` +
        `slowest ${slowest.app} in ${slowest.ms} ms (grace ${GRACE_MS} ms); ${handedBack} claims released at the end of the grace`,
    );
    scenario.note(load.summary());
    for (const { app, code, ms } of stopped) {
      expect({ app, code, withinGrace: ms <= GRACE_MS + CLOSE_MARGIN_MS }).toEqual({ app, code: 0, withinGrace: true });
    }
    expect(inFlight).toBeGreaterThan(0);
  });
});

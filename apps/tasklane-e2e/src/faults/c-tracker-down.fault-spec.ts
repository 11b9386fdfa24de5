import { Queue, TaskType } from '@tasklane/contracts';
import { CORE_APPS, FAULT_ENV, faultScenario } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const TRACKER_DOWN_MS = 60_000;

describe('fault: the status tracker stopped for a minute under load', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-c', { apps: [...CORE_APPS, 'worker-email'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario(
    'c. status tracker down for 60 s under load',
    async (scenario) => {
      const load = startLoad(system, {
        count: 280,
        concurrency: 4,
        ratePerSecond: 4,
        taskType: TaskType.Email,
        sleepMs: [100, 400],
      });
      await sleep(3_000);
      const completed = async (): Promise<number> =>
        Number(
          (
            await system.query<{ n: number }>(`SELECT COUNT(*) AS n FROM background_tasks WHERE status = 'completed'`)
          )[0].n,
        );
      const exitCode = await system.stopApp('status-tracker');
      const completedBefore = await completed();
      expect(exitCode).toBe(0);
      const stoppedAt = Date.now();
      const acceptedBefore = load.enqueued;
      await sleep(TRACKER_DOWN_MS);

      // Workers record their outcomes themselves (ADR 0007): the table moved on without the
      // tracker, while its events (started, succeeded…) piled up in its queue. Rows whose next
      // step is the tracker's (a retry) would be running with an expired lease.
      const completedWhileDown = (await completed()) - completedBefore;
      const [{ expired }] = await system.query<{ expired: number }>(
        `SELECT COUNT(*) AS expired FROM background_tasks
          WHERE status = 'running' AND lease_expires_at < DATE_SUB(UTC_TIMESTAMP(3), INTERVAL 1 SECOND)`,
      );
      const waitingMessages = (await system.queueState(Queue.StatusTracker)).messageCount;
      const acceptedWhileDown = load.enqueued - acceptedBefore;
      await system.startApp('status-tracker');
      const downFor = Date.now() - stoppedAt;
      await load.done;
      await scenario.check(system, { accepted: load.accepted });
      scenario.note(
        `tracker down ${Math.round(downFor / 1000)} s: ${acceptedWhileDown} tasks accepted meanwhile, ` +
          `${completedWhileDown} completed in the table meanwhile (written by the workers), ` +
          `${Number(expired)} running rows with an expired lease and ${waitingMessages} event messages queued when it came back`,
      );
      scenario.note(load.summary());
      expect(acceptedWhileDown).toBeGreaterThan(100);
      expect(completedWhileDown).toBeGreaterThan(100);
      expect(waitingMessages).toBeGreaterThan(0);
    },
    240_000,
  );
});

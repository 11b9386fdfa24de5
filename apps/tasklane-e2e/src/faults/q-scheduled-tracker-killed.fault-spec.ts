import { EnqueueBatchResult, TaskType } from '@tasklane/contracts';
import { FAULT_ENV, faultScenario, logLines } from '../support/fault-scenario';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const TASKS = 200;
const DUE = '"scheduled task due: command published"';

interface StartRow {
  task_id: string;
  early_ms: number | string | null;
}

describe('fault: scheduled tasks while their trackers are killed', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-q', { apps: ['api-gateway', 'worker-cleanup'], env: FAULT_ENV });
    await system.startApp('status-tracker', {}, 'one');
    await system.startApp('status-tracker', {}, 'two');
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario(
    'q. tasks due over 6 s; both trackers (due relays) SIGKILLed in turn: each starts once, none early',
    async (scenario) => {
      // 200 tasks due from 1 s to 6 s from now, in batches of 50.
      const accepted: string[] = [];
      for (let batch = 0; batch < TASKS / 50; batch += 1) {
        const response = await system.post<EnqueueBatchResult>('/api/tasks/enqueue/batch', {
          tasks: Array.from({ length: 50 }, (_, i) => ({
            task_name: 'diagnostic.sleep',
            task_type: TaskType.Cleanup,
            params: { ms: 20 },
            delay_ms: 1_000 + Math.floor(((batch * 50 + i) / TASKS) * 5_000),
          })),
        });
        expect(response.status).toBe(201);
        accepted.push(...response.body.tasks.map((task) => task.task_id));
      }

      // While they fall due: one due relay dies, then the other; the first comes back in between.
      await sleep(2_000);
      await system.killApp('status-tracker', 'one');
      await sleep(1_500);
      await system.startApp('status-tracker', {}, 'one');
      await system.killApp('status-tracker', 'two');
      await sleep(2_000);
      await system.startApp('status-tracker', {}, 'two');

      const figures = await scenario.check(system, { accepted });
      const early = (
        await system.query<StartRow>(
          `SELECT task_id, TIMESTAMPDIFF(MICROSECOND, started_at, run_at) DIV 1000 AS early_ms
           FROM background_tasks WHERE started_at < run_at`,
        )
      ).filter((row) => accepted.includes(row.task_id));
      const published = ['one', 'two'].reduce(
        (sum, replica) => sum + logLines(system.apps.get(TasklaneSystem.appKey('status-tracker', replica)), DUE).length,
        0,
      );
      scenario.note(
        `${TASKS} tasks due over 6 s; trackers SIGKILLed in turn; the surviving or restarted due relays published ` +
          `${published} commands (logs of the killed processes excluded); started before their run_at: ${early.length}`,
      );
      expect(early).toEqual([]);
      expect(figures.completed).toBe(TASKS);
    },
  );
});

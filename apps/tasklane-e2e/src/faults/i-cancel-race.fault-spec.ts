import { TaskResource, TaskType } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { CORE_APPS, FAULT_ENV, faultScenario, randomBetween } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

interface CancelOutcome {
  taskId: string;
  status: number;
  /** The task's status as the cancel answer reported it. */
  reported: string | undefined;
  /** Whether the task was running when the cancel hit it (a pending task has no `started_at`). */
  wasRunning: boolean;
}

describe('fault: cancel racing with the start of a task', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-i', { apps: [...CORE_APPS, 'worker-analytics'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('i. cancel racing with start', async (scenario) => {
    const cancel = async (task: TaskResource, delayMs: number): Promise<CancelOutcome> => {
      await sleep(delayMs);
      for (;;) {
        try {
          const response = await system.post<{ status?: string; started_at?: string | null }>(
            `/api/tasks/${task.task_id}/cancel`,
          );
          const { status, started_at: startedAt } = response.body;
          return { taskId: task.task_id, status: response.status, reported: status, wasRunning: Boolean(startedAt) };
        } catch {
          await sleep(100);
        }
      }
    };

    // 1. Clients enqueue short tasks and cancel each right away, while the worker consumes.
    const immediate: Array<Promise<CancelOutcome>> = [];
    const first = startLoad(system, {
      count: 150,
      concurrency: 8,
      taskType: TaskType.Analytics,
      sleepMs: [20, 60],
      onAccepted: (task) => {
        immediate.push(cancel(task, randomBetween(0, 20)));
      },
    });
    await first.done;
    const outcomes = await Promise.all(immediate);

    // 2. A backlog waits while the worker is down; it starts, and every task of the backlog is
    //    cancelled at once, in random order, while the worker claims them one after another.
    await system.stopApp('worker-analytics');
    const backlog = startLoad(system, { count: 150, concurrency: 8, taskType: TaskType.Analytics, sleepMs: [20, 60] });
    await backlog.done;
    const starting = system.startApp('worker-analytics');
    await waitFor('the worker to consume', () =>
      system.apps.get('worker-analytics')?.logs().includes('"message":"consuming"'),
    );
    const shuffled = [...backlog.tasks.values()].sort(() => Math.random() - 0.5);
    const racing: CancelOutcome[] = [];
    const lanes = Array.from({ length: 12 }, async () => {
      for (let task = shuffled.pop(); task; task = shuffled.pop()) {
        racing.push(await cancel(task, 0));
      }
    });
    await Promise.all([starting, ...lanes]);
    outcomes.push(...racing);

    const figures = await scenario.check(system, {
      accepted: [...first.accepted, ...backlog.accepted],
      cancelAllowed: true,
      cancelledWhileRunning: new Set(
        outcomes.filter((outcome) => outcome.status === 200 && outcome.wasRunning).map((outcome) => outcome.taskId),
      ),
    });
    const wrong: string[] = [];
    const tally = (list: CancelOutcome[]) => {
      const counts = { pending: 0, runningAborted: 0, runningFinished: 0, lost: 0 };
      for (const outcome of list) {
        const row = figures.rows.get(outcome.taskId);
        const runs = figures.executions.get(outcome.taskId)?.length ?? 0;
        if (outcome.status === 200 && outcome.reported === 'cancelled' && !outcome.wasRunning) {
          // Cancelled while pending: it must never start.
          counts.pending += 1;
          if (row?.status !== 'cancelled' || runs !== 0) {
            wrong.push(`${outcome.taskId}: cancelled while pending but the task is ${row?.status}, executed ${runs}×`);
          }
        } else if (outcome.status === 200 && outcome.reported === 'cancelled') {
          // Cancelled while running: the handler is aborted — or had finished just before the
          // abort reached it; either way the task stays cancelled, and ran once at most.
          counts[runs === 0 ? 'runningAborted' : 'runningFinished'] += 1;
          if (row?.status !== 'cancelled' || runs > 1) {
            wrong.push(`${outcome.taskId}: cancelled while running but the task is ${row?.status}, executed ${runs}×`);
          }
        } else if (outcome.status === 409) {
          counts.lost += 1;
          if (row?.status !== 'completed' || runs !== 1) {
            wrong.push(`${outcome.taskId}: cancel answered 409 but the task is ${row?.status}, executed ${runs}×`);
          }
        } else {
          wrong.push(`${outcome.taskId}: cancel answered ${outcome.status} ${outcome.reported}`);
        }
      }
      return counts;
    };
    const a = tally(outcomes.slice(0, outcomes.length - racing.length));
    const b = tally(racing);
    const describe = (c: typeof a) =>
      `${c.pending} cancelled while pending (never executed), ` +
      `${c.runningAborted + c.runningFinished} while running (${c.runningAborted} aborted, ` +
      `${c.runningFinished} had just finished; all stayed cancelled), ${c.lost} got 409 (completed, executed once)`;
    scenario.note(`cancel right after enqueue: ${describe(a)}`);
    scenario.note(`cancel of a backlog while the worker drains it: ${describe(b)}`);
    expect(wrong).toEqual([]);
    // Both sides of the race happened: it was a race.
    expect(a.pending + b.pending).toBeGreaterThan(0);
    expect(
      a.runningAborted + a.runningFinished + a.lost + b.runningAborted + b.runningFinished + b.lost,
    ).toBeGreaterThan(0);
  });
});

import {
  Exchange,
  TaskCommand,
  TaskEvent,
  TaskEventType,
  TaskName,
  TaskResource,
  TaskType,
  eventRoutingKey,
  taskRoutingKey,
} from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { TaskRow } from '../support/delivery-check';
import { CORE_APPS, FAULT_ENV, faultScenario, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const FORGED_RESULT = { slept_ms: -1, forged: true };

describe('fault: duplicated commands and duplicated, late and stale events', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-h', { apps: [...CORE_APPS, 'worker-cleanup'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('h. duplicate commands and duplicate/reordered/stale events', async (scenario) => {
    const injected = { commands: 0, afterCompletion: 0, staleAttempt: 0, duplicateStarted: 0 };

    const publishCommand = async (task: TaskResource): Promise<void> => {
      const command: TaskCommand = {
        task_id: task.task_id,
        task_name: task.task_name,
        task_type: task.task_type,
        params: task.params as never,
        priority: task.priority,
        max_retries: task.max_retries,
        retry_count: 0,
        timeout_ms: task.timeout_ms,
      };
      await system.publish(Exchange.Tasks, taskRoutingKey(task.task_type), Buffer.from(JSON.stringify(command)), {
        priority: task.priority,
        messageId: `${task.task_id}.0`,
      });
      injected.commands += 1;
    };
    const publishEvent = async (row: TaskRow, event: TaskEventType, attempt: number): Promise<void> => {
      const base = {
        task_id: row.task_id,
        task_name: TaskName.DiagnosticSleep,
        task_type: TaskType.Cleanup,
        retry_count: row.retry_count,
        attempt,
        occurred_at: new Date().toISOString(),
      };
      const body: TaskEvent =
        event === TaskEventType.Succeeded
          ? { ...base, event, result: FORGED_RESULT }
          : event === TaskEventType.Failed
            ? { ...base, event, error_message: 'forged failure' }
            : event === TaskEventType.Retrying
              ? { ...base, event, error_message: 'forged retry', delay_ms: 50 }
              : event === TaskEventType.Started
                ? { ...base, event }
                : { ...base, event: TaskEventType.Cancelled };
      await system.publish(Exchange.Events, eventRoutingKey(event), Buffer.from(JSON.stringify(body)), {
        messageId: `${row.task_id}.${row.retry_count}.${event}`,
      });
    };

    // Every accepted command is published twice more at once (duplicates while it is pending).
    const copies: Array<Promise<void>> = [];
    const load = startLoad(system, {
      count: 150,
      concurrency: 4,
      ratePerSecond: 12,
      taskType: TaskType.Cleanup,
      sleepMs: [100, 400],
      onAccepted: (task) => {
        copies.push(publishCommand(task), publishCommand(task));
      },
    });

    // Meanwhile, watch the table and inject, for each task:
    // - a duplicate `started` while it runs;
    // - `succeeded` (forged result), `failed` and `retrying` of a stale claim (old attempt) once
    //   it was handed back — a worker killed below produces those;
    // - after it completed: a late `started`, a duplicate `succeeded` (forged result), `failed`,
    //   `retrying`, and one more copy of its command.
    const seenRunning = new Set<string>();
    const seenStale = new Set<string>();
    const seenDone = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const rows = await system.query<TaskRow>(
          'SELECT task_id, task_name, status, attempt, retry_count, result, error_message, params FROM background_tasks',
        );
        for (const row of rows) {
          const task = load.tasks.get(row.task_id);
          if (!task) {
            continue;
          }
          if (row.status === 'running' && !seenRunning.has(row.task_id)) {
            seenRunning.add(row.task_id);
            await publishEvent(row, TaskEventType.Started, row.attempt);
            injected.duplicateStarted += 1;
          }
          if (row.attempt >= 2 && row.status !== 'completed' && !seenStale.has(row.task_id)) {
            seenStale.add(row.task_id);
            for (const event of [TaskEventType.Succeeded, TaskEventType.Failed, TaskEventType.Retrying]) {
              await publishEvent(row, event, row.attempt - 1);
              injected.staleAttempt += 1;
            }
          }
          if (row.status === 'completed' && !seenDone.has(row.task_id)) {
            seenDone.add(row.task_id);
            for (const event of [
              TaskEventType.Started,
              TaskEventType.Succeeded,
              TaskEventType.Failed,
              TaskEventType.Retrying,
            ]) {
              await publishEvent(row, event, row.attempt);
              injected.afterCompletion += 1;
            }
            await publishCommand(task);
          }
        }
        await sleep(100);
      }
    })();

    // One SIGKILL mid-run, so that some tasks are handed back and their old claim's events are stale.
    await sleep(4_000);
    await waitFor('the worker to run tasks', () => tasksInFlight(system.apps.get('worker-cleanup')) > 0, {
      timeoutMs: 20_000,
      intervalMs: 20,
    });
    await system.killApp('worker-cleanup');
    await system.startApp('worker-cleanup');
    await load.done;
    await Promise.all(copies);
    await waitFor('every task to complete and get its late events', () => seenDone.size >= load.accepted.length, {
      timeoutMs: 90_000,
      intervalMs: 200,
    }).finally(() => {
      watching = false;
    });
    await watcher;
    const figures = await scenario.check(system, { accepted: load.accepted });

    const forged = [...figures.rows.values()].filter(
      (row) =>
        row.error_message !== null ||
        (row.result as { slept_ms?: number } | null)?.slept_ms !== (row.params as { ms: number }).ms,
    );
    scenario.note(
      `injected ${injected.commands} duplicate commands, ${injected.duplicateStarted} duplicate started, ` +
        `${injected.staleAttempt} events of a stale claim (old attempt), ${injected.afterCompletion} late events after completion; ` +
        `${forged.length} rows changed by them`,
    );
    expect(forged.map((row) => row.task_id)).toEqual([]);
    expect(injected.staleAttempt).toBeGreaterThan(0);
  });
});

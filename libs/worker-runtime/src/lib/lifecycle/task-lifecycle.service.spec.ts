import { Registry } from 'prom-client';
import { TaskCommand, TaskEventType, TaskName, TaskRetryingEvent, TaskType } from '@tasklane/contracts';
import { TaskMetrics } from '@tasklane/observability';
import { PermanentTaskError } from '../handlers/task-handler';
import { LeaseKeeper } from './lease-keeper';
import { RecordResult } from './outcome-record.stage';
import { RunningTask, RunningTasks } from './running-tasks';
import { FinalEvent } from './task-events';
import { TaskLifecycle } from './task-lifecycle.service';
import { TaskOutcome } from './task-outcome';
import { TaskRunStage } from './task-run.stage';

const command = (overrides: Partial<TaskCommand> = {}): TaskCommand => ({
  task_id: '0190b0a1-0000-7000-8000-000000000001',
  task_name: TaskName.DiagnosticSleep,
  task_type: TaskType.Email,
  params: { ms: 0 },
  priority: 5,
  max_retries: 2,
  retry_count: 0,
  timeout_ms: 1_000,
  ...overrides,
});

type Handler = (signal: AbortSignal) => Promise<unknown>;

/** The stages around the run, as fakes that log what the lifecycle asked of them, in order. */
function pipeline(handler: Handler, options: { record?: RecordResult; publish?: boolean } = {}) {
  const steps: string[] = [];
  const claims = {
    heartbeat: async () => [],
    releaseClaim: async () => {
      steps.push('release claim');
      return true;
    },
  };
  const running = new RunningTasks(new LeaseKeeper(claims, { TASK_LEASE_MS: 60_000 }), claims, {
    WORKER_ID: 'spec-worker',
  });
  const registry = {
    get: () => ({ run: (_params: unknown, context: { signal: AbortSignal }) => handler(context.signal) }),
  };
  const run = new TaskRunStage(
    registry as never,
    { ABORT_GRACE_MS: 100 },
    { report: () => undefined, forget: () => undefined },
  );
  const recorded: FinalEvent[] = [];
  const published: Array<{ outcome: TaskOutcome; final: FinalEvent | null }> = [];
  const record = {
    record: async (event: FinalEvent): Promise<RecordResult> => {
      steps.push(`record ${event.event}`);
      recorded.push(event);
      return options.record ?? 'recorded';
    },
    recordRetrying: async (event: TaskRetryingEvent): Promise<RecordResult> => {
      steps.push(`record ${event.event} of retry ${event.retry_count}`);
      return options.record ?? 'recorded';
    },
  };
  const publish = {
    started: async (task: RunningTask) => {
      steps.push(`started attempt ${task.attempt}`);
    },
    outcome: async (
      task: RunningTask,
      outcome: TaskOutcome,
      final: FinalEvent | null,
      retryPublished?: (event: TaskRetryingEvent) => Promise<void>,
    ) => {
      steps.push(`publish ${outcome.kind}`);
      published.push({ outcome, final });
      if (outcome.kind === 'retry') {
        // As the real stage does: the retry message is out, then the transition is recorded.
        await retryPublished?.({
          event: TaskEventType.Retrying,
          task_id: task.command.task_id,
          task_name: task.command.task_name,
          task_type: task.command.task_type,
          retry_count: task.command.retry_count,
          attempt: task.attempt,
          occurred_at: new Date().toISOString(),
          error_message: outcome.errorMessage,
          delay_ms: 50,
        });
      }
      return !task.givenUp && (options.publish ?? true);
    },
  };
  const metrics = new TaskMetrics(new Registry());
  const lifecycle = new TaskLifecycle(running, run, record, publish, metrics, TaskType.Email);
  const handlerDone = () => steps.push('handler done');
  const counted = async (name: string): Promise<number> =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values.find((value) => value.labels.task_type === 'email')
      ?.value ?? 0;
  return { steps, running, lifecycle, recorded, published, handlerDone, counted };
}

describe('TaskLifecycle', () => {
  it('runs, frees the handler slot, records the success under the claim, then publishes it', async () => {
    const { steps, lifecycle, recorded, published, handlerDone, counted, running } = pipeline(async () => ({
      slept_ms: 0,
    }));
    await lifecycle.run(command(), { attempt: 3, startedAt: new Date() }, handlerDone);
    expect(steps).toEqual(['started attempt 3', 'handler done', 'record succeeded', 'publish succeeded']);
    expect(recorded[0]).toMatchObject({
      event: TaskEventType.Succeeded,
      task_id: command().task_id,
      attempt: 3,
      result: { slept_ms: 0 },
    });
    expect(published[0]?.final).toBe(recorded[0]);
    expect(await counted('tasklane_tasks_started_total')).toBe(1);
    expect(await counted('tasklane_tasks_completed_total')).toBe(1);
    expect(running.size).toBe(0);
  });

  it('publishes a retry, recording the retrying transition under the claim once the retry message is out', async () => {
    const { steps, lifecycle, published, handlerDone, counted } = pipeline(async () => {
      throw new Error('smtp down');
    });
    await lifecycle.run(command({ retry_count: 1 }), { attempt: 1, startedAt: new Date() }, handlerDone);
    expect(steps).toEqual(['started attempt 1', 'handler done', 'publish retry', 'record retrying of retry 1']);
    expect(published[0]).toEqual({
      outcome: { kind: 'retry', errorMessage: 'smtp down', nextRetryCount: 2 },
      final: null,
    });
    expect(await counted('tasklane_tasks_retried_total')).toBe(1);
  });

  it('records a failure for good on a permanent error or when retries are spent', async () => {
    const permanent = pipeline(async () => {
      throw new PermanentTaskError('no such recipient');
    });
    await permanent.lifecycle.run(command(), { attempt: 1, startedAt: new Date() }, permanent.handlerDone);
    expect(permanent.recorded[0]).toMatchObject({ event: TaskEventType.Failed, error_message: 'no such recipient' });

    const spent = pipeline(async () => {
      throw new Error('still down');
    });
    await spent.lifecycle.run(command({ retry_count: 2 }), { attempt: 1, startedAt: new Date() }, spent.handlerDone);
    expect(spent.steps).toEqual(['started attempt 1', 'handler done', 'record failed', 'publish failed']);
    expect(await spent.counted('tasklane_tasks_failed_total')).toBe(1);
  });

  it('discards the outcome when the claim was lost before it could be recorded: nothing is published', async () => {
    const { steps, lifecycle, handlerDone, counted } = pipeline(async () => ({ slept_ms: 0 }), {
      record: 'claim lost',
    });
    await lifecycle.run(command(), { attempt: 1, startedAt: new Date() }, handlerDone);
    expect(steps).toEqual(['started attempt 1', 'handler done', 'record succeeded']);
    expect(await counted('tasklane_tasks_completed_total')).toBe(0);
  });

  it('still publishes when the database could not record the outcome: the event carries it', async () => {
    const { steps, lifecycle, handlerDone, counted } = pipeline(async () => ({ slept_ms: 0 }), {
      record: 'not recorded',
    });
    await lifecycle.run(command(), { attempt: 1, startedAt: new Date() }, handlerDone);
    expect(steps).toEqual(['started attempt 1', 'handler done', 'record succeeded', 'publish succeeded']);
    expect(await counted('tasklane_tasks_completed_total')).toBe(1);
  });

  it('aborts the handler on a cancel of its generation, records and publishes nothing', async () => {
    const { steps, lifecycle, running, handlerDone, counted } = pipeline(
      (signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    const done = lifecycle.run(command(), { attempt: 2, startedAt: new Date() }, handlerDone);
    await new Promise((resolve) => setImmediate(resolve));
    running.cancel(command().task_id, 2);
    expect(running.size).toBe(1);
    running.cancel(command().task_id, 3);
    await done;
    expect(steps).toEqual(['started attempt 2', 'handler done']);
    expect(await counted('tasklane_tasks_completed_total')).toBe(0);
    expect(await counted('tasklane_tasks_failed_total')).toBe(0);
    expect(running.size).toBe(0);
  });

  it('hands back what still runs at the end of the shutdown grace, releasing its claim', async () => {
    const { steps, lifecycle, running, handlerDone } = pipeline(
      (signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    const done = lifecycle.run(command(), { attempt: 1, startedAt: new Date() }, handlerDone);
    await new Promise((resolve) => setImmediate(resolve));
    await lifecycle.handBackRunning();
    await done;
    expect(steps).toEqual(['started attempt 1', 'release claim', 'handler done']);
    expect(running.size).toBe(0);
  });
});

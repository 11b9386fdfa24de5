import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskResource, TaskRunResource, TaskStatus, isTerminalStatus } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { readExecutions } from './support/execution-log';
import { TasklaneSystem } from './support/tasklane-system';

interface ErrorBody {
  statusCode: number;
  message: string;
  status?: string;
  errors?: Array<{ field: string; message: string }>;
}

const UNKNOWN_TASK_ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const finished = (task: TaskResource) => isTerminalStatus(task.status);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Task control (ADR 0006) through the API: cancelling a running task, per-task timeouts, and
 * re-running a failed or cancelled task as a new run. Diagnostic tasks run on the cleanup worker;
 * the email type has no worker here, so a diagnostic task of that type stays pending.
 */
describe('task control, end to end', () => {
  let system: TasklaneSystem;
  let logDir: string;
  let executionLog: string;

  beforeAll(async () => {
    logDir = mkdtempSync(join(tmpdir(), 'tasklane-control-'));
    executionLog = join(logDir, 'executions.log');
    system = await TasklaneSystem.start('control', {
      apps: ['api-gateway', 'status-tracker', 'worker-cleanup'],
      env: { DIAGNOSTIC_EXECUTION_LOG: executionLog },
    });
  });

  afterAll(async () => {
    await system?.stop();
    rmSync(logDir, { recursive: true, force: true });
  });

  function workerLogLines(taskId: string, message: string): string[] {
    const logs = system.apps.get('worker-cleanup')?.logs() ?? '';
    return logs.split('\n').filter((line) => line.includes(taskId) && line.includes(message));
  }

  function executionsOf(taskId: string) {
    return readExecutions(executionLog).get(taskId) ?? [];
  }

  async function sleepTask(ms: number, extra: Record<string, unknown> = {}): Promise<TaskResource> {
    return system.enqueue({ task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms }, ...extra });
  }

  /** A task whose handler runs on the cleanup worker now. */
  async function runningSleepTask(ms: number): Promise<TaskResource> {
    const task = await sleepTask(ms);
    await system.waitForTask(task.task_id, (current) => current.status === TaskStatus.Running);
    await waitFor('the worker to start the handler', () => workerLogLines(task.task_id, '"task started"').length > 0);
    return task;
  }

  async function failedTask(message: string): Promise<TaskResource> {
    const task = await system.enqueue({
      task_name: 'diagnostic.fail',
      task_type: 'cleanup',
      params: { message },
      max_retries: 0,
    });
    const done = await system.waitForTask(task.task_id, finished);
    expect(done).toMatchObject({ status: TaskStatus.Failed, error_message: message });
    return done;
  }

  function cancel(taskId: string) {
    return system.post<TaskResource & ErrorBody>(`/api/tasks/${taskId}/cancel`);
  }

  function retry(taskId: string) {
    return system.post<TaskResource & ErrorBody>(`/api/tasks/${taskId}/retry`);
  }

  function runs(taskId: string) {
    return system.get<TaskRunResource[] & ErrorBody>(`/api/tasks/${taskId}/runs`);
  }

  describe('cancel', () => {
    it('cancels a running task: 200 cancelled, the worker aborts it at once, it never completes nor records an execution', async () => {
      const task = await runningSleepTask(20_000);

      const response = await cancel(task.task_id);
      const cancelledAt = Date.now();
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        task_id: task.task_id,
        status: TaskStatus.Cancelled,
        result: null,
        run: 1,
        started_at: expect.any(String),
        completed_at: expect.any(String),
      });

      // The broadcast reaches the worker: it aborts the handler and discards its outcome.
      await waitFor(
        'the worker to log the abort',
        () => workerLogLines(task.task_id, 'task cancelled while running: aborting its handler').length === 1,
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      expect(Date.now() - cancelledAt).toBeLessThan(2_500);
      await waitFor('the worker to discard the outcome', () => workerLogLines(task.task_id, 'discarded').length > 0, {
        timeoutMs: 5_000,
      });

      // It stays cancelled (a late `succeeded` would have arrived by now), and never ran to its end.
      for (let polls = 0; polls < 15; polls += 1) {
        const current = await system.get<TaskResource>(`/api/tasks/${task.task_id}`);
        expect(current.body.status).toBe(TaskStatus.Cancelled);
        await sleep(200);
      }
      expect(executionsOf(task.task_id)).toEqual([]);
      expect(workerLogLines(task.task_id, '"task succeeded"')).toEqual([]);
      expect((await runs(task.task_id)).body).toEqual([]);
    });

    it('answers 409 with the status for a completed, failed or cancelled task, and 404 for an unknown one', async () => {
      const completed = await sleepTask(10);
      expect((await system.waitForTask(completed.task_id, finished)).status).toBe(TaskStatus.Completed);
      const failed = await failedTask('cannot cancel me');
      const cancelled = await runningSleepTask(20_000);
      expect((await cancel(cancelled.task_id)).status).toBe(200);

      for (const [task, status] of [
        [completed, TaskStatus.Completed],
        [failed, TaskStatus.Failed],
        [cancelled, TaskStatus.Cancelled],
      ] as const) {
        const response = await cancel(task.task_id);
        expect(response.status).toBe(409);
        expect(response.body.status).toBe(status);
        expect(response.body.message).toContain('only pending or running tasks can be cancelled');
        expect((await system.get<TaskResource>(`/api/tasks/${task.task_id}`)).body.status).toBe(status);
      }
      expect((await cancel(UNKNOWN_TASK_ID)).status).toBe(404);
    });
  });

  describe('timeout_ms', () => {
    it('fails a 5 s sleep with timeout_ms 500 and max_retries 0: "timed out", well before the 5 s', async () => {
      const task = await sleepTask(5_000, { timeout_ms: 500, max_retries: 0 });
      expect(task).toMatchObject({ timeout_ms: 500, max_retries: 0, status: TaskStatus.Pending });

      const done = await system.waitForTask(task.task_id, finished, 15_000);
      expect(done).toMatchObject({
        status: TaskStatus.Failed,
        retry_count: 0,
        timeout_ms: 500,
        result: null,
        error_message: expect.stringContaining('timed out'),
      });
      expect(done.error_message).toBe('the task timed out after 500 ms');
      const ranMs = Date.parse(done.completed_at as string) - Date.parse(done.started_at as string);
      expect(ranMs).toBeGreaterThanOrEqual(450);
      expect(ranMs).toBeLessThan(4_000);
      expect(executionsOf(task.task_id)).toEqual([]);
    });

    it("defaults to the catalogue's timeout of the task", async () => {
      const task = await sleepTask(1);
      expect(task.timeout_ms).toBe(3_600_000);
      expect((await system.get<TaskResource>(`/api/tasks/${task.task_id}`)).body.timeout_ms).toBe(3_600_000);
    });

    it.each([
      ['below 100 ms', 99],
      ['0', 0],
      ['above 24 h', 86_400_001],
      ['not an integer', 1_000.5],
      ['a string', '500'],
    ])('answers 400 naming timeout_ms when it is %s, and writes nothing', async (_case, timeoutMs) => {
      const [before] = await system.query<{ n: number }>('SELECT COUNT(*) AS n FROM background_tasks');
      const response = await system.post<ErrorBody>('/api/tasks/enqueue', {
        task_name: 'diagnostic.sleep',
        task_type: 'cleanup',
        params: { ms: 1 },
        timeout_ms: timeoutMs,
      });
      expect(response.status).toBe(400);
      expect(response.body.errors?.map((error) => error.field)).toEqual(expect.arrayContaining(['timeout_ms']));
      expect(new Set(response.body.errors?.map((error) => error.field))).toEqual(new Set(['timeout_ms']));
      const [after] = await system.query<{ n: number }>('SELECT COUNT(*) AS n FROM background_tasks');
      expect(Number(after.n)).toBe(Number(before.n));
    });

    it.each([100, 86_400_000])('accepts the bound %p', async (timeoutMs) => {
      const task = await sleepTask(1, { timeout_ms: timeoutMs });
      expect(task.timeout_ms).toBe(timeoutMs);
      expect((await system.waitForTask(task.task_id, finished)).status).toBe(TaskStatus.Completed);
    });
  });

  describe('retry', () => {
    it('re-runs a cancelled task: 200 pending as run 2, it completes, and /runs keeps run 1 as cancelled', async () => {
      const task = await runningSleepTask(1_500);
      expect((await cancel(task.task_id)).status).toBe(200);
      const cancelledRow = (await system.get<TaskResource>(`/api/tasks/${task.task_id}`)).body;

      const response = await retry(task.task_id);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        task_id: task.task_id,
        status: TaskStatus.Pending,
        run: 2,
        retry_count: 0,
        result: null,
        error_message: null,
        started_at: null,
        completed_at: null,
        timeout_ms: task.timeout_ms,
      });

      const done = await system.waitForTask(task.task_id, finished);
      expect(done).toMatchObject({ status: TaskStatus.Completed, run: 2, result: { slept_ms: 1_500 } });

      const history = await runs(task.task_id);
      expect(history.status).toBe(200);
      expect(history.body).toEqual([
        {
          run: 1,
          status: TaskStatus.Cancelled,
          retry_count: 0,
          result: null,
          error_message: null,
          started_at: cancelledRow.started_at,
          completed_at: cancelledRow.completed_at,
          archived_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        },
      ]);
      // Only the second run ran to its end.
      expect(executionsOf(task.task_id).map((execution) => execution.retryCount)).toEqual([0]);
    });

    it('re-runs a failed task: it fails again as run 2, and /runs keeps run 1 with its error', async () => {
      const task = await failedTask('kaput');

      const response = await retry(task.task_id);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ status: TaskStatus.Pending, run: 2, error_message: null });

      const done = await system.waitForTask(
        task.task_id,
        (current) => current.run === 2 && isTerminalStatus(current.status),
      );
      expect(done).toMatchObject({ status: TaskStatus.Failed, run: 2, retry_count: 0, error_message: 'kaput' });

      const history = await runs(task.task_id);
      expect(history.status).toBe(200);
      expect(history.body).toEqual([
        {
          run: 1,
          status: TaskStatus.Failed,
          retry_count: 0,
          result: null,
          error_message: 'kaput',
          started_at: task.started_at,
          completed_at: task.completed_at,
          archived_at: expect.any(String),
        },
      ]);
      // The worker ran it once per run.
      expect(workerLogLines(task.task_id, '"task started"')).toHaveLength(2);
    });

    it('answers 409 with the status for a pending, running or completed task, and 404 for an unknown one', async () => {
      // No email worker runs here: this one stays pending.
      const pending = await system.enqueue({ task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 1 } });
      const running = await runningSleepTask(20_000);
      const completed = await sleepTask(10);
      expect((await system.waitForTask(completed.task_id, finished)).status).toBe(TaskStatus.Completed);

      for (const [task, status] of [
        [pending, TaskStatus.Pending],
        [running, TaskStatus.Running],
        [completed, TaskStatus.Completed],
      ] as const) {
        const response = await retry(task.task_id);
        expect(response.status).toBe(409);
        expect(response.body.status).toBe(status);
        expect(response.body.message).toContain('only failed or cancelled tasks can be retried');
        expect((await system.get<TaskResource>(`/api/tasks/${task.task_id}`)).body).toMatchObject({ status, run: 1 });
        expect((await runs(task.task_id)).body).toEqual([]);
      }
      expect((await retry(UNKNOWN_TASK_ID)).status).toBe(404);
      expect((await cancel(running.task_id)).status).toBe(200);
    });

    it('/runs and /retry answer 404 for an unknown task and 400 for a malformed id', async () => {
      expect((await runs(UNKNOWN_TASK_ID)).status).toBe(404);
      expect((await runs('not-a-uuid')).status).toBe(400);
      expect((await retry('not-a-uuid')).status).toBe(400);
    });
  });

  it('the OpenAPI document lists POST /api/tasks/{task_id}/retry and GET /api/tasks/{task_id}/runs', async () => {
    const response = await system.get<{ paths: Record<string, Record<string, unknown>> }>('/api/docs-json');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.paths['/api/tasks/{task_id}/retry'] ?? {})).toEqual(['post']);
    expect(Object.keys(response.body.paths['/api/tasks/{task_id}/runs'] ?? {})).toEqual(['get']);
    const retryResponses = (response.body.paths['/api/tasks/{task_id}/retry']['post'] as { responses: object })
      .responses;
    expect(Object.keys(retryResponses)).toEqual(expect.arrayContaining(['200', '404', '409']));
  });
});

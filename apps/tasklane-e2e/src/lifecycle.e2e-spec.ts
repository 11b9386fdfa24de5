import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  PurgeTasksResult,
  SendEmailResult,
  TaskResource,
  TaskStatsResult,
  TasksSummaryReportResult,
  TaskStatus,
  TaskType,
  isTerminalStatus,
  taskQueueName,
} from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { SmtpSink } from './support/smtp-sink';
import { TasklaneSystem } from './support/tasklane-system';

const finished = (task: TaskResource) => isTerminalStatus(task.status);

let seeded = 0;

/**
 * Inserts finished tasks straight into the table (history for the report, analytics and cleanup
 * tasks). Their ids start with 00000000- so a test can tell them from tasks run through the API.
 */
async function seedFinishedTasks(
  system: TasklaneSystem,
  rows: Array<{ type: TaskType; status: TaskStatus; createdAt: string; runMs: number; completedAt?: string }>,
): Promise<void> {
  for (const row of rows) {
    seeded += 1;
    const created = new Date(row.createdAt);
    const started = new Date(created.getTime() + 10);
    const completed = row.completedAt ? new Date(row.completedAt) : new Date(started.getTime() + row.runMs);
    await system.query(
      `INSERT INTO background_tasks (task_id, task_name, task_type, priority, status, params, retry_count, max_retries,
         error_message, created_at, started_at, completed_at)
       VALUES (?, 'diagnostic.sleep', ?, 5, ?, '{"ms":1}', 0, 3, ?, ?, ?, ?)`,
      [
        `00000000-0000-7000-8000-${String(seeded).padStart(12, '0')}`,
        row.type,
        row.status,
        row.status === TaskStatus.Failed ? 'seeded failure' : null,
        created,
        started,
        completed,
      ],
    );
  }
}

describe('task lifecycle, end to end', () => {
  let system: TasklaneSystem;
  let smtp: SmtpSink;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    system = await TasklaneSystem.start('lifecycle', { env: { SMTP_URL: smtp.url } });
  });

  afterAll(async () => {
    await system?.stop();
    await smtp?.stop();
  });

  it('email.send: the message reaches the SMTP server and the task completes with its result', async () => {
    const task = await system.enqueue({
      task_name: 'email.send',
      params: { to: 'grace@example.com', subject: 'Build finished', body: 'All green.' },
    });
    const done = await system.waitForTask(task.task_id, finished);
    expect(done.status).toBe('completed');
    expect(done.started_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
    const result = done.result as SendEmailResult;
    expect(result).toMatchObject({
      delivery: 'smtp',
      accepted: ['grace@example.com'],
      rejected: [],
      outbox_path: null,
    });
    const mail = smtp.messages.find((message) => message.raw.includes(`Message-ID: <${task.task_id}@tasklane>`));
    expect(mail).toBeDefined();
    expect(mail?.to).toEqual(['grace@example.com']);
    expect(mail?.raw).toContain('Subject: Build finished');
    expect(mail?.raw).toContain('All green.');
  });

  it('report.tasks_summary: writes a CSV of the tasks in the window and returns its path, size and row count', async () => {
    await seedFinishedTasks(system, [
      { type: TaskType.Email, status: TaskStatus.Completed, createdAt: '2020-03-01T10:00:00.000Z', runMs: 5 },
      { type: TaskType.Email, status: TaskStatus.Failed, createdAt: '2020-03-01T11:00:00.000Z', runMs: 7 },
      { type: TaskType.Cleanup, status: TaskStatus.Completed, createdAt: '2020-03-01T12:00:00.000Z', runMs: 9 },
    ]);
    const task = await system.enqueue({
      task_name: 'report.tasks_summary',
      params: { from: '2020-03-01T00:00:00Z', to: '2020-03-02T00:00:00Z', task_type: 'email' },
    });
    const done = await system.waitForTask(task.task_id, finished);
    expect(done.status).toBe('completed');
    const result = done.result as TasksSummaryReportResult;
    expect(result).toMatchObject({ format: 'csv', row_count: 2, from: '2020-03-01T00:00:00.000Z' });
    expect(existsSync(result.path)).toBe(true);
    const csv = readFileSync(result.path, 'utf8');
    expect(Buffer.byteLength(csv)).toBe(result.size_bytes);
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe(
      'task_id,task_name,task_type,priority,status,retry_count,created_at,started_at,completed_at,duration_ms,error_message',
    );
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain('failed');
    expect(lines[2]).toContain('seeded failure');
  });

  it('analytics.task_stats: counts, failure rate and run-time percentiles per type', async () => {
    await seedFinishedTasks(
      system,
      [100, 200, 300].map((runMs, index) => ({
        type: TaskType.Report,
        status: TaskStatus.Completed,
        createdAt: `2021-06-01T0${index}:00:00.000Z`,
        runMs,
      })),
    );
    await seedFinishedTasks(system, [
      { type: TaskType.Report, status: TaskStatus.Failed, createdAt: '2021-06-01T05:00:00.000Z', runMs: 50 },
    ]);
    const task = await system.enqueue({
      task_name: 'analytics.task_stats',
      params: { from: '2021-06-01T00:00:00Z', to: '2021-06-02T00:00:00Z' },
    });
    const done = await system.waitForTask(task.task_id, finished);
    expect(done.status).toBe('completed');
    const result = done.result as TaskStatsResult;
    expect(result.types).toEqual([
      {
        task_type: 'report',
        total: 4,
        by_status: { pending: 0, running: 0, completed: 3, failed: 1, cancelled: 0 },
        failure_rate: 0.25,
        duration_ms: { p50: 200, p95: 300, p99: 300, max: 300 },
      },
    ]);
  });

  it('cleanup.purge_tasks: deletes finished tasks older than the retention, in batches, and keeps the rest', async () => {
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString();
    const recent = new Date(Date.now() - 2 * 24 * 3600 * 1000).toISOString();
    await system.query("DELETE FROM background_tasks WHERE task_id LIKE '00000000-%'");
    await seedFinishedTasks(system, [
      ...Array.from({ length: 5 }, () => ({
        type: TaskType.Email,
        status: TaskStatus.Completed,
        createdAt: old,
        runMs: 1,
      })),
      { type: TaskType.Email, status: TaskStatus.Cancelled, createdAt: old, runMs: 1 },
      { type: TaskType.Email, status: TaskStatus.Completed, createdAt: recent, runMs: 1, completedAt: recent },
    ]);
    const countOthers = async () =>
      Number(
        (
          await system.query<{ n: number }>(
            "SELECT COUNT(*) AS n FROM background_tasks WHERE task_id NOT LIKE '00000000-%'",
          )
        )[0].n,
      );
    const othersBefore = await countOthers();
    const task = await system.enqueue({
      task_name: 'cleanup.purge_tasks',
      params: { older_than_days: 30, batch_size: 4 },
    });
    const done = await system.waitForTask(task.task_id, finished);
    expect(done.status).toBe('completed');
    expect(done.result as PurgeTasksResult).toMatchObject({ deleted: 6, batches: 2 });
    // Tasks finished by the earlier tests are recent: they stay (plus the purge task itself).
    expect(await countOthers()).toBe(othersBefore + 1);
    const remainingSeeded = await system.query<{ completed_at: Date }>(
      "SELECT completed_at FROM background_tasks WHERE task_id LIKE '00000000-%'",
    );
    expect(remainingSeeded).toHaveLength(1);
  });

  it('a task that always throws is retried max_retries times, then fails with its error', async () => {
    const task = await system.enqueue({
      task_name: 'diagnostic.fail',
      task_type: 'analytics',
      params: { message: 'the printer is on fire' },
      max_retries: 2,
      priority: 8,
    });
    const done = await system.waitForTask(task.task_id, finished);
    expect(done).toMatchObject({
      status: 'failed',
      retry_count: 2,
      max_retries: 2,
      error_message: 'the printer is on fire',
      priority: 8,
    });
    expect(done.completed_at).not.toBeNull();
    const logs = system.apps.get('worker-analytics')?.logs() ?? '';
    const runs = logs.split('\n').filter((line) => line.includes(task.task_id) && line.includes('"task started"'));
    expect(runs).toHaveLength(3);
  });

  it('a cancelled task never starts, even though its message is already in the queue', async () => {
    await system.stopApp('worker-report');
    const task = await system.enqueue({ task_name: 'report.tasks_summary', params: {} });
    expect((await system.queueState(taskQueueName(TaskType.Report))).messageCount).toBe(1);
    const cancelled = await system.post<TaskResource>(`/api/tasks/${task.task_id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');

    await system.startApp('worker-report');
    await waitFor('the report queue to drain', async () => {
      const queue = await system.queueState(taskQueueName(TaskType.Report));
      return queue.messageCount === 0 && system.apps.get('worker-report')?.logs().includes('not claimable');
    });
    const after = await system.get<TaskResource>(`/api/tasks/${task.task_id}`);
    expect(after.body).toMatchObject({ status: 'cancelled', started_at: null, result: null });
    const reportsDir = join(system.workDir, 'reports');
    const files = existsSync(reportsDir) ? readdirSync(reportsDir) : [];
    expect(files.some((file) => file.includes(task.task_id))).toBe(false);
  });

  it('cancel answers 200 for a running task (ADR 0006) and 409 with the status for a completed task', async () => {
    const running = await system.enqueue({
      task_name: 'diagnostic.sleep',
      task_type: 'cleanup',
      params: { ms: 2_000 },
    });
    await system.waitForTask(running.task_id, (task) => task.status === 'running');
    const cancelled = await system.post<TaskResource>(`/api/tasks/${running.task_id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ task_id: running.task_id, status: 'cancelled', result: null });
    expect(cancelled.body.started_at).not.toBeNull();
    expect(cancelled.body.completed_at).not.toBeNull();

    const completed = await system.enqueue({
      task_name: 'diagnostic.sleep',
      task_type: 'cleanup',
      params: { ms: 50 },
    });
    const done = await system.waitForTask(completed.task_id, finished);
    expect(done).toMatchObject({ status: 'completed', result: { slept_ms: 50 } });
    const late = await system.post<{ status: string }>(`/api/tasks/${completed.task_id}/cancel`);
    expect(late.status).toBe(409);
    expect(late.body.status).toBe('completed');
    // The running one, cancelled, never completed: its handler was aborted.
    expect((await system.get<TaskResource>(`/api/tasks/${running.task_id}`)).body.status).toBe('cancelled');
  });
});

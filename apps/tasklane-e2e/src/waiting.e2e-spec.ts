import { TaskResource, TaskStatus } from '@tasklane/contracts';
import { TasklaneSystem } from './support/tasklane-system';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sleepTask = (ms: number) => ({ task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms } });
type Errors = { errors: Array<{ field: string }> };

/**
 * Progress and waiting (issue #13): a handler's progress shown in the resource, and
 * `GET /api/tasks/{id}?wait=N` answering when the task finishes — the gateway, the tracker and a
 * worker as processes of their own, against the real RabbitMQ and MariaDB.
 */
describe('progress and waiting, end to end', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('waiting', {
      apps: ['api-gateway', 'status-tracker', 'worker-cleanup'],
      env: { PROGRESS_FLUSH_INTERVAL_MS: '500', TASK_WAIT_POLL_INTERVAL_MS: '200' },
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  const timed = async <T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const started = Date.now();
    const value = await work();
    return { value, ms: Date.now() - started };
  };

  it('shows the progress a handler reports, coalesced to a few writes a second', async () => {
    // diagnostic.sleep reports every 50 ms: 60 reports over 3 s.
    const task = await system.enqueue(sleepTask(3_000));
    expect(task).toMatchObject({ progress: null, progress_message: null });
    const seen: Array<{ progress: number | null; message: string | null }> = [];
    let current: TaskResource = task;
    while (current.status !== TaskStatus.Completed) {
      current = (await system.get<TaskResource>(`/api/tasks/${task.task_id}`)).body;
      if (current.status === TaskStatus.Running && current.progress !== null) {
        const last = seen[seen.length - 1];
        if (last?.progress !== current.progress) {
          seen.push({ progress: current.progress, message: current.progress_message });
        }
      }
      await sleep(50);
    }
    const values = seen.map((entry) => entry.progress as number);
    expect(values.length).toBeGreaterThanOrEqual(3);
    // Written at most every 500 ms (plus the first): never the 60 values the handler reported.
    expect(values.length).toBeLessThanOrEqual(9);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(values.every((value) => value >= 0 && value <= 100)).toBe(true);
    expect(seen[seen.length - 1].message).toMatch(/^slept \d+ of 3000 ms$/);
    // The finished task keeps what it last reported.
    expect(current.progress).toBe(values[values.length - 1]);
  });

  it('?wait answers as soon as the task finishes', async () => {
    const task = await system.enqueue(sleepTask(1_500));
    const { value, ms } = await timed(() => system.get<TaskResource>(`/api/tasks/${task.task_id}?wait=20`));
    expect(value.status).toBe(200);
    expect(value.body.status).toBe(TaskStatus.Completed);
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(4_000);
  });

  it('?wait answers with the task as it is when the time is up', async () => {
    const task = await system.enqueue(sleepTask(6_000));
    const { value, ms } = await timed(() => system.get<TaskResource>(`/api/tasks/${task.task_id}?wait=1`));
    expect(value.status).toBe(200);
    expect([TaskStatus.Pending, TaskStatus.Running]).toContain(value.body.status);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(2_500);
    await system.post(`/api/tasks/${task.task_id}/cancel`);
  });

  it('?wait on a finished task, or wait=0, answers at once; a cancel ends a wait', async () => {
    const done = await system.enqueue(sleepTask(5));
    await system.waitForTask(done.task_id, (task) => task.status === TaskStatus.Completed);
    const { value, ms } = await timed(() => system.get<TaskResource>(`/api/tasks/${done.task_id}?wait=30`));
    expect(value.body.status).toBe(TaskStatus.Completed);
    expect(ms).toBeLessThan(500);

    const long = await system.enqueue(sleepTask(30_000));
    const waiting = timed(() => system.get<TaskResource>(`/api/tasks/${long.task_id}?wait=30`));
    await sleep(500);
    expect((await system.post(`/api/tasks/${long.task_id}/cancel`)).status).toBe(200);
    const cancelled = await waiting;
    expect(cancelled.value.body.status).toBe(TaskStatus.Cancelled);
    expect(cancelled.ms).toBeLessThan(2_500);
  });

  it('200 clients waiting on 20 tasks are all answered when their task finishes', async () => {
    const tasks = await Promise.all(
      Array.from({ length: 20 }, (_, index) => system.enqueue(sleepTask(200 + index * 50))),
    );
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, index) =>
        system.get<TaskResource>(`/api/tasks/${tasks[index % 20].task_id}?wait=30`),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 200 }, () => 200));
    expect(answers.every((answer) => answer.body.status === TaskStatus.Completed)).toBe(true);
  });

  it('refuses a bad wait with a 400 naming it; an unknown task is a 404 at once', async () => {
    const task = await system.enqueue(sleepTask(5));
    for (const wait of ['61', '-1', 'soon', '1.5']) {
      const response = await system.get<Errors>(`/api/tasks/${task.task_id}?wait=${wait}`);
      expect({ wait, status: response.status, fields: response.body.errors?.map((error) => error.field) }).toEqual({
        wait,
        status: 400,
        fields: expect.arrayContaining(['wait']),
      });
    }
    const { value, ms } = await timed(() => system.get('/api/tasks/0190a0b0-0000-7000-8000-00000000abcd?wait=30'));
    expect(value.status).toBe(404);
    expect(ms).toBeLessThan(1_000);
  });
});

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import {
  TaskEventPage,
  TaskEventResource,
  TaskHistoryEvent,
  TaskResource,
  TaskStatus,
  isTerminalStatus,
} from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { HttpResponse, TasklaneSystem } from './support/tasklane-system';

const RW = 'e2e-history-writer-0123456789abcdef';
const RO = 'e2e-history-reader-0123456789abcdef';
const UNKNOWN_TASK_ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const asWriter = { authorization: `Bearer ${RW}` };
const asReader = { 'x-api-key': RO };
/** How the history names a key: the first 12 hex digits of its SHA-256, never the key. */
const actorOf = (key: string) => `key:${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
const finished = (task: TaskResource) => isTerminalStatus(task.status);

/**
 * A task's history (issue #12) through GET /api/tasks/{id}/events, with API keys on: each
 * transition of a real run — written by the gateway, the worker and the tracker, each a process
 * of its own — in order, with who and which worker.
 */
describe("a task's history, end to end", () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('history', {
      apps: ['api-gateway', 'status-tracker', 'worker-cleanup'],
      env: { API_KEYS_READ_WRITE: RW, API_KEYS_READ_ONLY: RO, RETRY_BASE_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '100' },
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  const post = <T>(path: string, body?: unknown) => system.request<T>('POST', path, body, asWriter);
  const read = <T>(path: string, headers: Record<string, string> = asReader) =>
    system.request<T>('GET', path, undefined, headers);

  async function enqueue(body: Record<string, unknown>): Promise<TaskResource> {
    const response = await post<TaskResource>('/api/tasks/enqueue', body);
    expect(response.status).toBe(201);
    return response.body;
  }

  async function waitUntil(taskId: string, done: (task: TaskResource) => boolean): Promise<TaskResource> {
    return waitFor(
      `task ${taskId}`,
      async () => {
        const response = await read<TaskResource>(`/api/tasks/${taskId}`);
        return response.status === 200 && done(response.body) ? response.body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  /** Every event of a task, following next_cursor with pages of `limit`. */
  async function historyOf(taskId: string, limit = 100): Promise<TaskEventResource[]> {
    const events: TaskEventResource[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? `?limit=${limit}` : `?limit=${limit}&cursor=${cursor}`;
      const response: HttpResponse<TaskEventPage> = await read<TaskEventPage>(`/api/tasks/${taskId}/events${query}`);
      expect(response.status).toBe(200);
      events.push(...response.body.items);
      cursor = response.body.next_cursor;
    } while (cursor !== null);
    return events;
  }

  const kinds = (events: TaskEventResource[]) => events.map((event) => [event.event, event.run, event.retry_count]);

  it('shows a failing task: enqueued by the key, started by the worker, retrying with the error, failed; then retried by whom, as run 2', async () => {
    const task = await enqueue({
      task_name: 'diagnostic.fail',
      task_type: 'cleanup',
      params: { message: 'disk full on /var' },
      max_retries: 1,
    });
    expect(await waitUntil(task.task_id, finished)).toMatchObject({ status: TaskStatus.Failed });

    let events = await historyOf(task.task_id);
    expect(kinds(events)).toEqual([
      [TaskHistoryEvent.Enqueued, 1, 0],
      [TaskHistoryEvent.Started, 1, 0],
      [TaskHistoryEvent.Retrying, 1, 0],
      [TaskHistoryEvent.Started, 1, 1],
      [TaskHistoryEvent.Failed, 1, 1],
    ]);
    expect(events[0]).toMatchObject({ actor: actorOf(RW), worker_id: null, occurred_at: task.created_at });
    for (const index of [1, 3, 4]) {
      expect(events[index].worker_id).toMatch(new RegExp(`^${hostname()}:\\d+$`));
      expect(events[index].actor).toBeNull();
    }
    expect(events[2].message).toContain('disk full on /var');
    expect(events[4].message).toContain('disk full on /var');
    // Attempts (claim generations) and event ids only grow; times never go backwards.
    expect(events.map((event) => event.attempt)).toEqual([0, 1, 1, 2, 2]);
    const ids = events.map((event) => BigInt(event.event_id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    const times = events.map((event) => Date.parse(event.occurred_at));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    expect((await post<TaskResource>(`/api/tasks/${task.task_id}/retry`)).status).toBe(200);
    await waitUntil(task.task_id, (current) => current.run === 2 && finished(current));
    events = await historyOf(task.task_id, 2);
    expect(kinds(events.slice(5))).toEqual([
      [TaskHistoryEvent.Retried, 2, 1],
      [TaskHistoryEvent.Started, 2, 1],
      [TaskHistoryEvent.Failed, 2, 1],
    ]);
    expect(events[5].actor).toBe(actorOf(RW));
  });

  it('shows a succeeded task, and a pending one cancelled by the key', async () => {
    const done = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 10 } });
    await waitUntil(done.task_id, (current) => current.status === TaskStatus.Completed);
    expect((await historyOf(done.task_id)).map((event) => event.event)).toEqual([
      TaskHistoryEvent.Enqueued,
      TaskHistoryEvent.Started,
      TaskHistoryEvent.Succeeded,
    ]);

    // No worker of the email type runs here: the task stays pending until cancelled.
    const pending = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 10 } });
    expect((await post(`/api/tasks/${pending.task_id}/cancel`)).status).toBe(200);
    expect((await post(`/api/tasks/${pending.task_id}/cancel`)).status).toBe(409);
    const events = await historyOf(pending.task_id);
    expect(events.map((event) => [event.event, event.actor])).toEqual([
      [TaskHistoryEvent.Enqueued, actorOf(RW)],
      [TaskHistoryEvent.Cancelled, actorOf(RW)],
    ]);
  });

  it('pages by keyset: next_cursor continues after the last event, null on the last page', async () => {
    const task = await enqueue({ task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 10 } });
    await waitUntil(task.task_id, (current) => current.status === TaskStatus.Completed);
    const first = await read<TaskEventPage>(`/api/tasks/${task.task_id}/events?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.next_cursor).toBe(first.body.items[1].event_id);
    const second = await read<TaskEventPage>(
      `/api/tasks/${task.task_id}/events?limit=2&cursor=${first.body.next_cursor}`,
    );
    expect(second.body).toEqual({
      items: [expect.objectContaining({ event: TaskHistoryEvent.Succeeded })],
      next_cursor: null,
    });
  });

  it('answers 404 for an unknown task, 400 naming the field for a bad id, limit or cursor, 401 without a key', async () => {
    const unknown = await read<{ message: string }>(`/api/tasks/${UNKNOWN_TASK_ID}/events`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain(UNKNOWN_TASK_ID);
    expect((await read(`/api/tasks/not-a-uuid/events`)).status).toBe(400);
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=two', 'limit'],
      ['cursor=-1', 'cursor'],
      ['cursor=abc', 'cursor'],
      ['sort=desc', 'sort'],
    ]) {
      const response = await read<{ errors?: Array<{ field: string }> }>(
        `/api/tasks/${UNKNOWN_TASK_ID}/events?${query}`,
      );
      expect({ query, status: response.status }).toEqual({ query, status: 400 });
      expect(response.body.errors?.map((error) => error.field)).toContain(field);
    }
    expect((await read(`/api/tasks/${UNKNOWN_TASK_ID}/events`, {})).status).toBe(401);
  });

  it('is in the OpenAPI document with named schemas', async () => {
    const doc = await read<{
      paths: Record<string, Record<string, { responses: Record<string, { content: unknown }> }>>;
      components: { schemas: Record<string, { properties?: Record<string, { enum?: string[] }> }> };
    }>('/api/docs-json');
    expect(doc.status).toBe(200);
    expect(JSON.stringify(doc.body.paths['/api/tasks/{task_id}/events'].get.responses['200'])).toContain(
      '#/components/schemas/TaskEventPage',
    );
    expect(doc.body.components.schemas.TaskEvent.properties?.event.enum).toEqual(Object.values(TaskHistoryEvent));
  });
});

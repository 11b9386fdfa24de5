import { TaskName, TaskType } from '@tasklane/contracts';
import { DatabaseUnavailableError, NewTask } from '@tasklane/persistence';
import { PendingTaskWriter } from './pending-task.writer';

function newTask(index: number): NewTask {
  return {
    taskId: `task-${index}`,
    taskName: TaskName.DiagnosticSleep,
    taskType: TaskType.Email,
    priority: 5,
    params: { ms: 0 },
    maxRetries: 3,
    timeoutMs: 1_000,
    createdAt: new Date(0),
  };
}

/** A fake store whose writes finish when the test says so. */
class FakeStore {
  readonly statements: string[][] = [];
  private releases: Array<() => void> = [];
  failBatchWith: unknown = null;
  refuse = new Set<string>();

  private wait(): Promise<void> {
    return new Promise((resolve) => this.releases.push(resolve));
  }

  async insertPending(task: NewTask): Promise<NewTask> {
    this.statements.push([task.taskId]);
    await this.wait();
    if (this.refuse.has(task.taskId)) {
      throw Object.assign(new Error('Data too long'), { code: 'ER_DATA_TOO_LONG' });
    }
    return task;
  }

  async insertPendingBatch(tasks: readonly NewTask[]): Promise<NewTask[]> {
    this.statements.push(tasks.map((task) => task.taskId));
    await this.wait();
    if (this.failBatchWith !== null) {
      throw this.failBatchWith;
    }
    return [...tasks];
  }

  /** Lets every write started so far finish. */
  async releaseAll(): Promise<void> {
    while (this.releases.length > 0) {
      const pending = this.releases;
      this.releases = [];
      pending.forEach((release) => release());
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

describe('PendingTaskWriter', () => {
  it('writes a lone enqueue at once, as its own INSERT', async () => {
    const store = new FakeStore();
    const writer = new PendingTaskWriter(store as never);
    const done = writer.insert(newTask(1));
    expect(store.statements).toEqual([['task-1']]);
    await store.releaseAll();
    await expect(done).resolves.toEqual(newTask(1));
  });

  it('gathers enqueues that arrive while two INSERTs are in flight into one, each settling with its row', async () => {
    const store = new FakeStore();
    const writer = new PendingTaskWriter(store as never);
    const all = Array.from({ length: 10 }, (_, index) => writer.insert(newTask(index)));
    expect(store.statements).toEqual([['task-0'], ['task-1']]);
    await store.releaseAll();
    expect(store.statements).toEqual([
      ['task-0'],
      ['task-1'],
      ['task-2', 'task-3', 'task-4', 'task-5', 'task-6', 'task-7', 'task-8', 'task-9'],
    ]);
    await expect(Promise.all(all)).resolves.toEqual(Array.from({ length: 10 }, (_, index) => newTask(index)));
  });

  it('fails every enqueue of a group when the database is unavailable (→ 503), without retrying', async () => {
    const store = new FakeStore();
    // What the repository's database boundary raises for a refused connection.
    store.failBatchWith = new DatabaseUnavailableError(
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    const writer = new PendingTaskWriter(store as never);
    const all = Array.from({ length: 5 }, (_, index) => writer.insert(newTask(index)).catch((error: Error) => error));
    await store.releaseAll();
    const settled = await Promise.all(all);
    expect(settled.slice(2).map((error) => (error as Error).message)).toEqual(
      Array.from({ length: 3 }, () => 'the database is unavailable: connect ECONNREFUSED'),
    );
    expect(store.statements).toHaveLength(3);
  });

  it('retries a refused group row by row, so one bad row fails alone', async () => {
    const store = new FakeStore();
    store.failBatchWith = Object.assign(new Error('Data too long'), { code: 'ER_DATA_TOO_LONG' });
    store.refuse.add('task-3');
    const writer = new PendingTaskWriter(store as never);
    const all = Array.from({ length: 5 }, (_, index) =>
      writer.insert(newTask(index)).then(
        (task) => task.taskId,
        (error: Error) => `refused: ${error.message}`,
      ),
    );
    await store.releaseAll();
    await expect(Promise.all(all)).resolves.toEqual(['task-0', 'task-1', 'task-2', 'refused: Data too long', 'task-4']);
    expect(store.statements.slice(2)).toEqual([['task-2', 'task-3', 'task-4'], ['task-2'], ['task-3'], ['task-4']]);
  });
});

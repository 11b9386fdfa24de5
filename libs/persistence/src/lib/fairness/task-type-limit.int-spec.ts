import { DataSource } from 'typeorm';
import { TaskStatus, TaskType } from '@tasklane/contracts';
import { LEASE_MS, useTaskRepositories, waitMs } from '../background-task/task-repositories.fixture';
import { ClaimAnswer } from '../background-task/task-claim.repository';
import { createTaskRepositories } from '../background-task/task-repositories';
import { dataSourceOptions } from '../database/data-source.options';
import { CONCURRENCY_LIMIT_RETRY_MS, TASK_TYPE_LIMITS_TABLE, TypeLimits } from './task-type-limit.sql';

jest.setTimeout(60_000);

const won = (answers: ClaimAnswer[]) => answers.filter((answer) => answer !== null && 'attempt' in answer).length;
const limited = (answers: ClaimAnswer[]) =>
  answers.filter((answer) => answer !== null && 'limitedForMs' in answer).length;

describe('per-type concurrency and rate limits at the claim (MariaDB)', () => {
  const fixture = useTaskRepositories('type_limits');
  const { inserted } = fixture;
  /** A second pool: another worker replica. */
  let other: DataSource;

  beforeAll(async () => {
    other = new DataSource(dataSourceOptions({ url: fixture.db.url, poolSize: 8 }));
    await other.initialize();
  });

  afterAll(async () => {
    if (other?.isInitialized) {
      await other.destroy();
    }
  });

  beforeEach(async () => {
    await fixture.dataSource.query('DELETE FROM background_tasks');
    await fixture.dataSource.query(`DELETE FROM ${TASK_TYPE_LIMITS_TABLE}`);
  });

  const limits = (overrides: Partial<TypeLimits>): TypeLimits => ({
    taskType: TaskType.Report,
    maxRunning: null,
    perSecond: null,
    ...overrides,
  });

  async function pending(count: number, taskType = TaskType.Report) {
    const tasks = [];
    for (let index = 0; index < count; index += 1) {
      tasks.push(await inserted({ taskType }));
    }
    return tasks.map((task) => ({ taskId: task.taskId, retryCount: 0 }));
  }

  async function running(taskType = TaskType.Report): Promise<number> {
    const [row] = (await fixture.dataSource.query(
      `SELECT COUNT(*) AS n FROM background_tasks WHERE task_type = ? AND status = '${TaskStatus.Running}'`,
      [taskType],
    )) as Array<{ n: string | number }>;
    return Number(row.n);
  }

  it('maxRunning: claims up to the limit, holds the rest back, and claims again once a task of the type ends', async () => {
    const requests = await pending(5);
    const cap = limits({ maxRunning: 2 });
    const first = await fixture.tasks.claims.claimMany(requests, LEASE_MS, {}, cap);
    expect(won(first)).toBe(2);
    expect(first.slice(2)).toEqual([1, 2, 3].map(() => ({ limitedForMs: CONCURRENCY_LIMIT_RETRY_MS })));
    const rest = requests.slice(2);
    expect(limited(await fixture.tasks.claims.claimMany(rest, LEASE_MS, {}, cap))).toBe(3);
    // Other types are not held back by it.
    expect(won(await fixture.tasks.claims.claimMany(await pending(3, TaskType.Email), LEASE_MS, {}, null))).toBe(3);

    const [done] = first;
    if (done === null || !('attempt' in done)) {
      throw new Error('expected a claim');
    }
    expect(await fixture.tasks.claims.releaseClaim(requests[0].taskId, done.attempt)).toBe(true);
    const again = await fixture.tasks.claims.claimMany(rest, LEASE_MS, {}, cap);
    expect([won(again), limited(again)]).toEqual([1, 2]);
    expect(await running()).toBe(2);
  });

  it('maxRunning holds across replicas claiming at once', async () => {
    const requests = await pending(24);
    const replicas = [createTaskRepositories(fixture.dataSource), createTaskRepositories(other)];
    const cap = limits({ maxRunning: 3 });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        replicas[index % 2].claims.claimMany(requests.slice(index * 3, index * 3 + 3), LEASE_MS, {}, cap),
      ),
    );
    expect(answers.reduce((sum, group) => sum + won(group), 0)).toBe(3);
    expect(answers.reduce((sum, group) => sum + limited(group), 0)).toBe(21);
    expect(await running()).toBe(3);
  });

  it('a request that is not claimable takes no room: null, and the next one is claimed', async () => {
    const [cancelled, free] = await pending(2);
    expect(await fixture.tasks.control.cancel(cancelled.taskId, new Date())).not.toBeNull();
    const answers = await fixture.tasks.claims.claimMany([cancelled, free], LEASE_MS, {}, limits({ maxRunning: 1 }));
    expect(answers[0]).toBeNull();
    expect(answers[1]).toMatchObject({ attempt: 1 });
  });

  it('perSecond: a bucket of one second (burst), refilled over time, shared by every replica', async () => {
    const requests = await pending(8);
    const rate = limits({ perSecond: 4 });
    const first = await fixture.tasks.claims.claimMany(requests, LEASE_MS, {}, rate);
    expect(won(first)).toBe(4);
    // The next token comes in about a quarter of a second.
    const [held] = first.slice(4) as Array<{ limitedForMs: number }>;
    expect(held.limitedForMs).toBeGreaterThan(150);
    expect(held.limitedForMs).toBeLessThanOrEqual(250);
    const rest = requests.slice(4);
    expect(won(await createTaskRepositories(other).claims.claimMany(rest, LEASE_MS, {}, rate))).toBe(0);
    await waitMs(600);
    // Two tokens (0.6 s × 4/s) came back, counted from the first claim: the other replica sees them too.
    const later = await createTaskRepositories(other).claims.claimMany(rest, LEASE_MS, {}, rate);
    expect(won(later)).toBe(2);
    expect(limited(later)).toBe(2);
  });

  it('a fractional rate lets one start per period', async () => {
    const requests = await pending(3);
    const rate = limits({ perSecond: 0.5 });
    const first = await fixture.tasks.claims.claimMany(requests, LEASE_MS, {}, rate);
    expect(won(first)).toBe(1);
    const [held] = first.slice(1) as Array<{ limitedForMs: number }>;
    expect(held.limitedForMs).toBeGreaterThan(1_900);
    expect(held.limitedForMs).toBeLessThanOrEqual(2_000);
  });

  it('without limits a claim leaves task_type_limits alone', async () => {
    expect(won(await fixture.tasks.claims.claimMany(await pending(3), LEASE_MS, {}, null))).toBe(3);
    expect(await fixture.dataSource.query(`SELECT * FROM ${TASK_TYPE_LIMITS_TABLE}`)).toEqual([]);
  });
});

import { DataSource } from 'typeorm';
import { TaskStatus, newTaskId } from '@tasklane/contracts';
import { TestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { Claim } from './task-claim.repository';
import { TaskRepositories, createTaskRepositories } from './task-repositories';
import {
  LEASE_MS,
  FIRST_CLAIM,
  UNCLAIMED,
  at,
  succeeded,
  waitMs,
  useTaskRepositories,
} from './task-repositories.fixture';

// Real services (database set-up, migrations) need more than Jest's default 5 s.
jest.setTimeout(30_000);

describe('TaskClaimRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('repository_claims');
  const { row, delivery, inserted, claimed, expireLease } = fixture;
  let db: TestDatabase;
  let dataSource: DataSource;
  let tasks: TaskRepositories;

  beforeAll(() => {
    ({ db, dataSource, tasks } = fixture);
  });

  describe('claim / releaseClaim / cancel / failUnprocessable', () => {
    it('claims a retry once, returning its generation; a second claim of the same retry fails', async () => {
      const task = await inserted();

      expect(await tasks.claims.claim(task.taskId, 0, at(1_234), LEASE_MS)).toBe(FIRST_CLAIM);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Running,
        retryCount: 0,
        startedAt: at(1_234),
        completedAt: null,
      });

      expect(await tasks.claims.claim(task.taskId, 0, at(5_000), LEASE_MS)).toBeNull();
      expect((await row(task.taskId)).startedAt).toEqual(at(1_234));
      expect((await delivery(task.taskId)).attempt).toBe(FIRST_CLAIM);
    });

    it('sets the lease on the database clock and dispatched_at when the command was never recorded', async () => {
      const task = await inserted();
      // started_at is the worker's clock (here long ago); the lease only follows the database's.
      expect(await tasks.claims.claim(task.taskId, 0, at(1), 20_000)).toBe(FIRST_CLAIM);

      const [now] = (await dataSource.query('SELECT UTC_TIMESTAMP(3) AS now')) as Array<{ now: Date }>;
      const claimedRow = await delivery(task.taskId);
      expect(claimedRow.lease_left_ms).toBeGreaterThan(15_000);
      expect(claimedRow.lease_left_ms).toBeLessThanOrEqual(20_000);
      expect(claimedRow.dispatched_at).not.toBeNull();
      expect(Math.abs((claimedRow.dispatched_at as Date).getTime() - now.now.getTime())).toBeLessThan(5_000);

      // Already recorded as dispatched: the claim keeps that time.
      const recorded = await inserted();
      await tasks.outbox.markDispatched([recorded.taskId], at(42));
      await claimed(recorded);
      expect((await delivery(recorded.taskId)).dispatched_at).toEqual(at(42));
    });

    it('does not claim an unknown task, a retry beyond max_retries, or an older retry', async () => {
      expect(await tasks.claims.claim(newTaskId(), 0, at(1), LEASE_MS)).toBeNull();

      const task = await inserted({ maxRetries: 1 });
      expect(await tasks.claims.claim(task.taskId, 2, at(1), LEASE_MS)).toBeNull();
      expect((await row(task.taskId)).status).toBe(TaskStatus.Pending);
      expect(await delivery(task.taskId)).toMatchObject({ attempt: UNCLAIMED, lease_expires_at: null });

      expect(await tasks.claims.claim(task.taskId, 1, at(2), LEASE_MS)).toBe(FIRST_CLAIM);
      expect(await tasks.claims.claim(task.taskId, 0, at(3), LEASE_MS)).toBeNull();
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, retryCount: 1 });
    });

    it('does not claim a cancelled task', async () => {
      const task = await inserted();
      expect((await tasks.control.cancel(task.taskId, at(10)))?.from).toBe(TaskStatus.Pending);

      expect(await tasks.claims.claim(task.taskId, 0, at(20), LEASE_MS)).toBeNull();
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        startedAt: null,
        completedAt: at(10),
      });
      // The cancel is a new generation of its own (ADR 0006); the task was never claimed.
      expect(await delivery(task.taskId)).toMatchObject({ attempt: UNCLAIMED + 1, lease_expires_at: null });
    });

    it('cancels a pending or a running task, once, and never a finished one', async () => {
      const pending = await inserted();
      expect((await tasks.control.cancel(pending.taskId, at(10)))?.from).toBe(TaskStatus.Pending);
      expect(await tasks.control.cancel(pending.taskId, at(20))).toBeNull();
      expect((await row(pending.taskId)).completedAt).toEqual(at(10));

      const running = await inserted();
      await claimed(running, 0, at(5));
      expect((await tasks.control.cancel(running.taskId, at(10)))?.from).toBe(TaskStatus.Running);
      expect(await tasks.control.cancel(running.taskId, at(20))).toBeNull();
      expect(await row(running.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        completedAt: at(10),
      });

      const completed = await inserted();
      const attempt = await claimed(completed);
      await tasks.events.applyEvents([succeeded(completed, { ok: true }, { attempt })]);
      expect(await tasks.control.cancel(completed.taskId, at(10))).toBeNull();
      expect((await row(completed.taskId)).status).toBe(TaskStatus.Completed);

      expect(await tasks.control.cancel(newTaskId(), at(10))).toBeNull();
    });

    it('releaseClaim hands a running claim back: pending, a new generation, back in the outbox', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(100));
      expect((await delivery(task.taskId)).dispatched_at).not.toBeNull();

      // Only the generation that holds the claim can release it.
      expect(await tasks.claims.releaseClaim(task.taskId, attempt + 1)).toBe(false);
      expect(await tasks.claims.releaseClaim(task.taskId, attempt - 1)).toBe(false);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Running);

      expect(await tasks.claims.releaseClaim(task.taskId, attempt)).toBe(true);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, retryCount: 0, startedAt: null });
      expect(await delivery(task.taskId)).toEqual({
        attempt: attempt + 1,
        lease_expires_at: null,
        dispatched_at: null,
        lease_left_ms: null,
      });
      expect(await tasks.claims.releaseClaim(task.taskId, attempt)).toBe(false);
      expect(await tasks.claims.releaseClaim(task.taskId, attempt + 1)).toBe(false); // pending: nothing to release

      // Claimable again, as the next generation.
      expect(await tasks.claims.claim(task.taskId, 0, at(200), LEASE_MS)).toBe(attempt + 2);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, startedAt: at(200) });
    });

    it('releaseClaim does not touch a finished task', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      await tasks.events.applyEvents([succeeded(task, 1, { occurred_at: at(200), attempt })]);
      expect(await tasks.claims.releaseClaim(task.taskId, attempt)).toBe(false);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Completed);
      expect((await delivery(task.taskId)).attempt).toBe(attempt);
    });

    it('failUnprocessable ends a pending task only, never a running claim', async () => {
      const task = await inserted();
      expect(await tasks.claims.failUnprocessable(task.taskId, 'poison', at(50))).toBe(true);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        errorMessage: 'poison',
        completedAt: at(50),
      });
      expect(await tasks.claims.failUnprocessable(task.taskId, 'again', at(60))).toBe(false);
      expect((await row(task.taskId)).errorMessage).toBe('poison');

      // A malformed copy of a task a worker is running must not fail the good attempt.
      const running = await inserted();
      const attempt = await claimed(running);
      expect(await tasks.claims.failUnprocessable(running.taskId, 'poison copy', at(70))).toBe(false);
      expect(await row(running.taskId)).toMatchObject({ status: TaskStatus.Running, errorMessage: null });
      expect(await delivery(running.taskId)).toMatchObject({ attempt, lease_expires_at: expect.any(Date) });

      expect(await tasks.claims.failUnprocessable(newTaskId(), 'unknown', at(80))).toBe(false);
    });
  });

  describe('claimMany (deliveries claimed together)', () => {
    it('claims every claimable task of a group in one transaction, each at its retry, with one start time', async () => {
      const first = await inserted();
      const second = await inserted({ maxRetries: 3 });
      const before = Date.now();

      const won = await tasks.claims.claimMany(
        [
          { taskId: first.taskId, retryCount: 0 },
          { taskId: second.taskId, retryCount: 2 },
        ],
        20_000,
      );

      expect(won).toEqual([
        { attempt: FIRST_CLAIM, startedAt: expect.any(Date) },
        { attempt: FIRST_CLAIM, startedAt: expect.any(Date) },
      ]);
      const startedAt = won[0]?.startedAt as Date;
      expect(won[1]?.startedAt).toEqual(startedAt);
      expect(startedAt.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(await row(first.taskId)).toMatchObject({
        status: TaskStatus.Running,
        retryCount: 0,
        startedAt,
      });
      expect(await row(second.taskId)).toMatchObject({ status: TaskStatus.Running, retryCount: 2 });
      for (const task of [first, second]) {
        const claimedRow = await delivery(task.taskId);
        expect(claimedRow.attempt).toBe(FIRST_CLAIM);
        expect(claimedRow.lease_left_ms).toBeGreaterThan(15_000);
        expect(claimedRow.lease_left_ms).toBeLessThanOrEqual(20_000);
        expect(claimedRow.dispatched_at).not.toBeNull();
      }
      // Claimed already: a second group gets nothing and changes nothing.
      expect(
        await tasks.claims.claimMany(
          [
            { taskId: first.taskId, retryCount: 0 },
            { taskId: second.taskId, retryCount: 2 },
          ],
          LEASE_MS,
        ),
      ).toEqual([null, null]);
      expect((await delivery(first.taskId)).attempt).toBe(FIRST_CLAIM);
    });

    it('answers null, in place and changing nothing, for what is not claimable, and claims the rest', async () => {
      const cancelled = await inserted();
      await tasks.control.cancel(cancelled.taskId, at(10));
      const running = await inserted();
      const runningAttempt = await claimed(running);
      const limited = await inserted({ maxRetries: 1 });
      const retried = await inserted({ maxRetries: 2 });
      await claimed(retried, 1);
      const fine = await inserted();
      const twice = await inserted();

      const won = await tasks.claims.claimMany(
        [
          { taskId: newTaskId(), retryCount: 0 }, // unknown
          { taskId: cancelled.taskId, retryCount: 0 },
          { taskId: running.taskId, retryCount: 0 }, // already claimed (a duplicate delivery)
          { taskId: limited.taskId, retryCount: 2 }, // beyond max_retries
          { taskId: retried.taskId, retryCount: 0 }, // an older retry
          { taskId: fine.taskId, retryCount: 0 },
          { taskId: twice.taskId, retryCount: 0 },
          { taskId: twice.taskId, retryCount: 0 }, // a second copy in the same group
        ],
        LEASE_MS,
      );

      expect(won.map((claim) => claim?.attempt ?? null)).toEqual([
        null,
        null,
        null,
        null,
        null,
        FIRST_CLAIM,
        FIRST_CLAIM,
        null,
      ]);
      expect((await row(cancelled.taskId)).status).toBe(TaskStatus.Cancelled);
      expect((await delivery(running.taskId)).attempt).toBe(runningAttempt);
      expect(await row(limited.taskId)).toMatchObject({ status: TaskStatus.Pending, retryCount: 0 });
      expect(await row(retried.taskId)).toMatchObject({ status: TaskStatus.Running, retryCount: 1 });
      expect(await row(fine.taskId)).toMatchObject({ status: TaskStatus.Running, retryCount: 0 });
      expect((await delivery(twice.taskId)).attempt).toBe(FIRST_CLAIM);
    });

    it('claims each task exactly once when two workers claim the same tasks concurrently, in any order', async () => {
      const other = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
      await other.initialize();
      try {
        const otherTasks = createTaskRepositories(other);
        const group = await Promise.all(Array.from({ length: 60 }, () => inserted()));
        const requests = group.map((task) => ({ taskId: task.taskId, retryCount: 0 }));
        // Overlapping groups of different sizes and orders, as two workers given duplicates would.
        const calls = [
          requests.slice(0, 40),
          [...requests].reverse(),
          requests.slice(20),
          requests.filter((_, index) => index % 2 === 0),
        ];
        const results = await Promise.all(
          calls.map((call, index) => (index % 2 === 0 ? tasks : otherTasks).claims.claimMany(call, LEASE_MS)),
        );

        const wins = new Map<string, number>();
        results.forEach((answers, call) =>
          answers.forEach((answer, index) => {
            if (answer !== null) {
              const taskId = calls[call][index].taskId;
              wins.set(taskId, (wins.get(taskId) ?? 0) + 1);
            }
          }),
        );
        expect(wins.size).toBe(group.length);
        expect([...wins.values()].every((count) => count === 1)).toBe(true);
        for (const task of group) {
          expect((await delivery(task.taskId)).attempt).toBe(FIRST_CLAIM);
        }
      } finally {
        await other.destroy();
      }
    });
  });

  describe('reportProgress', () => {
    it('writes the progress of running claims in one statement, never for a stale claim; a new attempt clears it', async () => {
      const a = await inserted();
      const b = await inserted();
      const attemptA = (await tasks.claims.claim(a.taskId, 0, at(1), 60_000)) as number;
      const attemptB = (await tasks.claims.claim(b.taskId, 0, at(1), 60_000)) as number;

      const written = await tasks.claims.reportProgress([
        { taskId: a.taskId, attempt: attemptA, percent: 40, message: 'copying 4 of 10 ✓' },
        { taskId: b.taskId, attempt: attemptB + 1, percent: 90, message: 'from a stale claim' },
      ]);
      expect(written).toBe(1);
      expect(await row(a.taskId)).toMatchObject({ progress: 40, progressMessage: 'copying 4 of 10 ✓' });
      expect(await row(b.taskId)).toMatchObject({ progress: null, progressMessage: null });

      expect(
        await tasks.claims.reportProgress([{ taskId: a.taskId, attempt: attemptA, percent: 55, message: null }]),
      ).toBe(1);
      expect(await row(a.taskId)).toMatchObject({ progress: 55, progressMessage: null });

      // Handed back (pending again, no progress), and claimed again: the new attempt starts with none.
      await tasks.claims.releaseClaim(a.taskId, attemptA);
      expect(await row(a.taskId)).toMatchObject({ status: TaskStatus.Pending, progress: null, progressMessage: null });
      const again = (await tasks.claims.claim(a.taskId, 0, at(2), 60_000)) as number;
      expect(again).toBeGreaterThan(attemptA);
      expect(await row(a.taskId)).toMatchObject({ progress: null, progressMessage: null });
      // The old attempt's late report does not land.
      expect(
        await tasks.claims.reportProgress([{ taskId: a.taskId, attempt: attemptA, percent: 99, message: 'late' }]),
      ).toBe(0);
      expect(await tasks.claims.reportProgress([])).toBe(0);
    });
  });

  describe('heartbeat', () => {
    it('extends the leases of claims still held, on the database clock, and reports none lost', async () => {
      const a = await inserted();
      const b = await inserted();
      const claims: Claim[] = [];
      for (const task of [a, b]) {
        claims.push({
          taskId: task.taskId,
          attempt: (await tasks.claims.claim(task.taskId, 0, at(1), 1_000)) as number,
        });
      }
      const before = await delivery(a.taskId);
      expect(before.lease_left_ms).toBeLessThanOrEqual(1_000);

      expect(await tasks.claims.heartbeat(claims, 60_000)).toEqual([]);
      for (const task of [a, b]) {
        const after = await delivery(task.taskId);
        expect(after.lease_left_ms).toBeGreaterThan(55_000);
        expect(after.lease_left_ms).toBeLessThanOrEqual(60_000);
        expect((after.lease_expires_at as Date).getTime()).toBeGreaterThan((before.lease_expires_at as Date).getTime());
      }

      // Every renewal pushes the lease further.
      const first = (await delivery(a.taskId)).lease_expires_at as Date;
      await waitMs(20);
      expect(await tasks.claims.heartbeat([claims[0]], 60_000)).toEqual([]);
      expect(((await delivery(a.taskId)).lease_expires_at as Date).getTime()).toBeGreaterThan(first.getTime());
      expect((await row(a.taskId)).status).toBe(TaskStatus.Running);
    });

    it('reports the claims no longer held (released, reclaimed, finished, another generation) and renews only the rest', async () => {
      const held = await inserted();
      const released = await inserted();
      const reclaimed = await inserted();
      const finished = await inserted();
      const claims: Claim[] = [];
      for (const task of [held, released, reclaimed, finished]) {
        claims.push({ taskId: task.taskId, attempt: await claimed(task) });
      }
      expect(await tasks.claims.releaseClaim(released.taskId, claims[1].attempt)).toBe(true);
      await expireLease(reclaimed.taskId, 60);
      expect(await tasks.claims.reclaimExpired(30_000, 100)).toContain(reclaimed.taskId);
      await tasks.events.applyEvents([succeeded(finished, 'done', { attempt: claims[3].attempt })]);
      // A claim whose generation the row no longer holds (released then claimed again by another worker).
      const stolen = await inserted();
      const oldGeneration = await claimed(stolen);
      await tasks.claims.releaseClaim(stolen.taskId, oldGeneration);
      const newGeneration = await claimed(stolen);
      await expireLease(stolen.taskId, -5); // the new owner's lease: 5 s from now

      const lost = await tasks.claims.heartbeat(
        [...claims, { taskId: stolen.taskId, attempt: oldGeneration }, { taskId: newTaskId(), attempt: 1 }],
        LEASE_MS,
      );
      expect(lost).toEqual([
        claims[1],
        claims[2],
        claims[3],
        { taskId: stolen.taskId, attempt: oldGeneration },
        { taskId: expect.any(String), attempt: 1 },
      ]);

      expect((await delivery(held.taskId)).lease_left_ms).toBeGreaterThan(LEASE_MS - 10_000);
      // A lost claim's heartbeat changes nothing.
      for (const task of [released, reclaimed, finished]) {
        expect((await delivery(task.taskId)).lease_expires_at).toBeNull();
      }
      expect(await row(released.taskId)).toMatchObject({ status: TaskStatus.Pending });
      expect(await row(reclaimed.taskId)).toMatchObject({ status: TaskStatus.Pending });
      expect(await delivery(stolen.taskId)).toMatchObject({
        attempt: newGeneration,
        lease_left_ms: expect.any(Number),
      });
      expect((await delivery(stolen.taskId)).lease_left_ms).toBeLessThanOrEqual(5_000);
    });

    it('does nothing for no claims', async () => {
      await expect(tasks.claims.heartbeat([], LEASE_MS)).resolves.toEqual([]);
    });
  });

  describe('reclaimExpired', () => {
    beforeEach(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    it('hands back only running tasks whose lease expired more than the grace ago, keeping their retry', async () => {
      const longExpired = await inserted();
      const longExpiredRetry = await inserted({ maxRetries: 3 });
      const withinGrace = await inserted();
      const live = await inserted();
      const pending = await inserted();
      const finished = await inserted();

      const attempts = new Map<string, number>();
      attempts.set(longExpired.taskId, await claimed(longExpired, 0, at(10)));
      attempts.set(longExpiredRetry.taskId, await claimed(longExpiredRetry, 2, at(20)));
      await claimed(withinGrace);
      await claimed(live);
      const finishedAttempt = await claimed(finished);
      // Retry 2 after an earlier failure: the error of retry 1 stays until the task finishes.
      await dataSource.query("UPDATE background_tasks SET error_message = 'earlier error' WHERE task_id = ?", [
        longExpiredRetry.taskId,
      ]);
      await tasks.events.applyEvents([succeeded(finished, 'done', { attempt: finishedAttempt })]);

      await expireLease(longExpired.taskId, 60);
      await expireLease(longExpiredRetry.taskId, 11);
      await expireLease(withinGrace.taskId, 2); // expired, but less than the grace ago
      await expireLease(finished.taskId, 60); // a finished task is never reclaimed, whatever its lease says

      expect(await tasks.claims.reclaimExpired(10_000, 100)).toEqual([longExpired.taskId, longExpiredRetry.taskId]);

      for (const task of [longExpired, longExpiredRetry]) {
        expect(await delivery(task.taskId)).toEqual({
          attempt: (attempts.get(task.taskId) as number) + 1,
          lease_expires_at: null,
          dispatched_at: null,
          lease_left_ms: null,
        });
      }
      // A crash does not use up a retry: the same retry runs again.
      expect(await row(longExpired.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retryCount: 0,
        startedAt: null,
        completedAt: null,
      });
      expect(await row(longExpiredRetry.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retryCount: 2,
        errorMessage: 'earlier error',
        startedAt: null,
        completedAt: null,
      });

      expect(await row(withinGrace.taskId)).toMatchObject({ status: TaskStatus.Running });
      expect((await delivery(withinGrace.taskId)).lease_left_ms).toBeLessThan(0);
      expect(await row(live.taskId)).toMatchObject({ status: TaskStatus.Running });
      expect(await row(pending.taskId)).toMatchObject({ status: TaskStatus.Pending });
      expect(await row(finished.taskId)).toMatchObject({ status: TaskStatus.Completed });

      // Nothing more to reclaim; with no grace, the one within the grace is taken too.
      expect(await tasks.claims.reclaimExpired(10_000, 100)).toEqual([]);
      expect(await tasks.claims.reclaimExpired(0, 100)).toEqual([withinGrace.taskId]);

      // The reclaimed retry can be claimed again, as a new generation, and the relay publishes it.
      expect(await tasks.claims.claim(longExpiredRetry.taskId, 2, at(30), LEASE_MS)).toBe(
        (attempts.get(longExpiredRetry.taskId) as number) + 2,
      );
    });

    it('reclaims at most `limit` tasks per call, oldest first', async () => {
      const expired = [await inserted(), await inserted(), await inserted()];
      for (const task of expired) {
        await claimed(task);
        await expireLease(task.taskId, 60);
      }

      expect(await tasks.claims.reclaimExpired(0, 2)).toEqual([expired[0].taskId, expired[1].taskId]);
      expect(await tasks.claims.reclaimExpired(0, 2)).toEqual([expired[2].taskId]);
      expect(await tasks.claims.reclaimExpired(0, 2)).toEqual([]);
    });
  });
});

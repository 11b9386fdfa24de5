import { TaskName, TaskType, newTaskId } from '@tasklane/contracts';
import { ClaimAnswer, ClaimRequest, TypeLimits } from '@tasklane/persistence';

type HistorySource = { workerId?: string | null };
import { TaskClaimStage, typeLimitsOf } from './task-claim.stage';

describe('typeLimitsOf', () => {
  it('is null without limits, and carries each limit set (0 means none)', () => {
    expect(typeLimitsOf(TaskType.Email, { TASK_TYPE_MAX_RUNNING: 0, TASK_TYPE_MAX_PER_SECOND: 0 })).toBeNull();
    expect(typeLimitsOf(TaskType.Email, { TASK_TYPE_MAX_RUNNING: 3, TASK_TYPE_MAX_PER_SECOND: 0 })).toEqual({
      taskType: TaskType.Email,
      maxRunning: 3,
      perSecond: null,
    });
    expect(typeLimitsOf(TaskType.Report, { TASK_TYPE_MAX_RUNNING: 0, TASK_TYPE_MAX_PER_SECOND: 0.5 })).toEqual({
      taskType: TaskType.Report,
      maxRunning: null,
      perSecond: 0.5,
    });
  });
});

describe('TaskClaimStage', () => {
  it("claims with the worker's lease, id and its type's limits, and passes a held-back answer on", async () => {
    const calls: Array<{ requests: readonly ClaimRequest[]; leaseMs: number; source: HistorySource; limits: unknown }> =
      [];
    const repository = {
      claimMany: (
        requests: readonly ClaimRequest[],
        leaseMs: number,
        source: HistorySource,
        limits: TypeLimits | null,
      ) => {
        calls.push({ requests, leaseMs, source, limits });
        return Promise.resolve(requests.map((): ClaimAnswer => ({ limitedForMs: 250 })));
      },
    };
    const stage = new TaskClaimStage(
      repository as never,
      {
        TASK_LEASE_MS: 30_000,
        WORKER_CONCURRENCY: 4,
        WORKER_ID: 'pod-1:42',
        TASK_TYPE_MAX_RUNNING: 2,
        TASK_TYPE_MAX_PER_SECOND: 0,
      },
      TaskType.Report,
    );
    const taskId = newTaskId();
    const answer = await stage.claim({
      task_id: taskId,
      task_name: TaskName.DiagnosticSleep,
      task_type: TaskType.Report,
      params: { ms: 1 },
      priority: 5,
      max_retries: 3,
      retry_count: 1,
      timeout_ms: 1_000,
    });
    expect(answer).toEqual({ limitedForMs: 250 });
    expect(calls).toEqual([
      {
        requests: [{ taskId, retryCount: 1 }],
        leaseMs: 30_000,
        source: { workerId: 'pod-1:42' },
        limits: { taskType: TaskType.Report, maxRunning: 2, perSecond: null },
      },
    ]);
  });
});

import { TaskType, taskQueueName } from '@tasklane/contracts';
import { readExecutions } from '../support/execution-log';
import { CORE_APPS, FAULT_ENV, faultScenario, logLines } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { TasklaneSystem } from '../support/tasklane-system';

interface OutboxRow {
  task_id: string;
  status: string;
  dispatched_at: Date | null;
}

describe('fault: the gateway killed between its database commit and its publish', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-g', { apps: [...CORE_APPS, 'worker-cleanup'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('g. gateway SIGKILLed after its commit, before its publish', async (scenario) => {
    const before = startLoad(system, { count: 30, concurrency: 3, taskType: TaskType.Cleanup, sleepMs: [100, 300] });
    await before.done;

    // A gateway that dies right after committing a task (TEST_CRASH_AFTER_INSERT), with no
    // worker consuming, so the queue shows that no command was published.
    await system.stopApp('worker-cleanup');
    await system.stopApp('api-gateway');
    const crashing = await system.startApp('api-gateway', { TEST_CRASH_AFTER_INSERT: 'true' });
    const queued = (await system.queueState(taskQueueName(TaskType.Cleanup))).messageCount;
    const answer = await system
      .post('/api/tasks/enqueue', { task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 250 } })
      .then(
        (response) => `answered ${response.status}`,
        (error: unknown) => `failed: ${(error as Error).message}`,
      );
    const exitCode = await crashing.waitForExit();
    system.apps.delete('api-gateway');
    const known = new Set(before.accepted);
    const orphans = (
      await system.query<OutboxRow>('SELECT task_id, status, dispatched_at FROM background_tasks ORDER BY id')
    ).filter((row) => !known.has(row.task_id));
    const queuedAfterCrash = (await system.queueState(taskQueueName(TaskType.Cleanup))).messageCount;

    // The request failed, the gateway died by SIGKILL, and exactly one committed row was never published.
    expect(answer).toMatch(/^failed/);
    expect(exitCode).toBeNull();
    expect(orphans).toHaveLength(1);
    expect(orphans[0]).toMatchObject({ status: 'pending', dispatched_at: null });
    expect(queuedAfterCrash).toBe(queued);
    const orphan = orphans[0].task_id;

    await system.startApp('api-gateway');
    await system.startApp('worker-cleanup');
    const after = startLoad(system, { count: 30, concurrency: 3, taskType: TaskType.Cleanup, sleepMs: [100, 300] });
    await after.done;
    const figures = await scenario.check(system, {
      accepted: [...before.accepted, ...after.accepted],
      committed: [orphan],
    });
    const relayed = logLines(system.apps.get('status-tracker'), '"task command relayed from the outbox"');
    scenario.note(
      `the request to the crashing gateway ${answer}, the gateway died by SIGKILL; its orphan row was relayed ` +
        `from the outbox, ended ${figures.rows.get(orphan)?.status}, executed ${readExecutions(system.executionLog).get(orphan)?.length ?? 0}× ` +
        '(counted as accepted)',
    );
    expect(figures.rows.get(orphan)?.status).toBe('completed');
    expect(relayed.some((line) => line.includes(orphan))).toBe(true);
  });
});

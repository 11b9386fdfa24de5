import { TaskEvent, TaskEventType, TaskName, TaskStatus, TaskType } from '@tasklane/contracts';
import { GuardedRow, eventMayApply, eventTarget, movesForward } from './event-guard';

const base = {
  task_id: '01890a5d-ac96-774b-bcce-b302099a8057',
  task_name: TaskName.DiagnosticSleep,
  task_type: TaskType.Email,
  retry_count: 0,
  attempt: 1,
  occurred_at: '2026-11-29T00:00:00.000Z',
};
const started: TaskEvent = { ...base, event: TaskEventType.Started };
const succeeded: TaskEvent = { ...base, event: TaskEventType.Succeeded, result: null };
const retrying: TaskEvent = { ...base, event: TaskEventType.Retrying, error_message: 'x', delay_ms: 10 };
const running: GuardedRow = { status: TaskStatus.Running, attempt: 1, retry_count: 0, max_retries: 3 };

describe('eventTarget', () => {
  it('moves a retrying event to the next retry, pending', () => {
    expect(eventTarget(retrying)).toEqual({ retryCount: 1, status: TaskStatus.Pending });
    expect(eventTarget(succeeded)).toEqual({ retryCount: 0, status: TaskStatus.Completed });
  });
});

describe('eventMayApply (the event guard, read ahead)', () => {
  it('lets a step forward of the current generation through', () => {
    expect(eventMayApply(running, succeeded)).toBe(true);
    expect(eventMayApply(running, retrying)).toBe(true);
    expect(eventMayApply({ ...running, status: TaskStatus.Pending }, started)).toBe(true);
  });

  it('stops events of another generation, for a final row, for no row, or not forward', () => {
    expect(eventMayApply({ ...running, attempt: 2 }, succeeded)).toBe(false);
    expect(eventMayApply({ ...running, status: TaskStatus.Completed }, succeeded)).toBe(false);
    expect(eventMayApply({ ...running, status: TaskStatus.Cancelled }, succeeded)).toBe(false);
    expect(eventMayApply(undefined, succeeded)).toBe(false);
    expect(eventMayApply(running, started)).toBe(false); // the claim already made it running
    expect(eventMayApply({ ...running, retry_count: 1, status: TaskStatus.Pending }, retrying)).toBe(false);
  });

  it('stops a retry beyond max_retries', () => {
    expect(eventMayApply({ ...running, max_retries: 0 }, retrying)).toBe(false);
  });

  it('reads numbers the driver returns as strings', () => {
    const fromDriver = { ...running, attempt: '1', retry_count: '0', max_retries: '3' } as unknown as GuardedRow;
    expect(eventMayApply(fromDriver, succeeded)).toBe(true);
  });
});

describe('movesForward (the forward-only guard of a claim)', () => {
  const claim = (retryCount: number) => ({ retryCount, status: TaskStatus.Running });
  const pending = { status: TaskStatus.Pending, retry_count: 0, max_retries: 2 };

  it('claims a pending retry, or a later retry of an active task', () => {
    expect(movesForward(pending, claim(0))).toBe(true);
    expect(movesForward({ ...pending, status: TaskStatus.Running }, claim(1))).toBe(true);
  });

  it('does not claim a running retry again, an older retry, one beyond max_retries, or a final task', () => {
    expect(movesForward({ ...pending, status: TaskStatus.Running }, claim(0))).toBe(false);
    expect(movesForward({ ...pending, retry_count: 1 }, claim(0))).toBe(false);
    expect(movesForward(pending, claim(3))).toBe(false);
    for (const status of [TaskStatus.Completed, TaskStatus.Failed, TaskStatus.Cancelled]) {
      expect(movesForward({ ...pending, status }, claim(1))).toBe(false);
    }
  });
});

import { TaskCommand, TaskName, TaskType } from '@tasklane/contracts';
import { PermanentTaskError } from '../handlers/task-handler';
import { TaskTimeoutError } from './abort';
import {
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_RESULT_BYTES,
  errorMessageOf,
  outcomeOfFailure,
  unstorableResult,
} from './task-outcome';

describe('errorMessageOf', () => {
  class QuotaError extends Error {
    override name = 'QuotaError';
  }

  it.each([
    ['an Error', new Error('boom'), 'boom'],
    ['a string', 'plain text', 'plain text'],
    ['a number', 42, '42'],
    ['undefined', undefined, 'undefined'],
    ['an Error without a message', new TypeError(''), 'TypeError'],
    ['a named Error without a message', new QuotaError(), 'QuotaError'],
  ])('describes %s', (_, error, expected) => {
    expect(errorMessageOf(error)).toBe(expected);
  });

  it('keeps a message of exactly the maximum length', () => {
    const message = 'x'.repeat(MAX_ERROR_MESSAGE_LENGTH);
    expect(errorMessageOf(new Error(message))).toBe(message);
  });

  it('truncates a longer message to the maximum length, ending in an ellipsis', () => {
    const truncated = errorMessageOf(new Error('y'.repeat(MAX_ERROR_MESSAGE_LENGTH + 1)));
    expect(truncated).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
    expect(truncated).toBe(`${'y'.repeat(MAX_ERROR_MESSAGE_LENGTH - 1)}…`);
  });
});

describe('unstorableResult', () => {
  it.each([
    ['an object', { sent: true }],
    ['undefined (stored as null)', undefined],
    ['null', null],
    ['a number', 0],
    ['an empty string', ''],
  ])('accepts %s', (_, result) => {
    expect(unstorableResult(result)).toBeNull();
  });

  it('rejects a circular object', () => {
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    expect(unstorableResult(circular)).toMatch(/^the handler's result is not JSON-serialisable: .*circular/i);
  });

  it('rejects a BigInt', () => {
    expect(unstorableResult({ count: BigInt(1) })).toMatch(/^the handler's result is not JSON-serialisable: .*BigInt/);
  });

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('result')],
  ])('rejects %s, which JSON cannot represent', (_, result) => {
    expect(unstorableResult(result)).toBe("the handler's result is not JSON-serialisable");
  });

  it('accepts a result of exactly the byte limit', () => {
    expect(unstorableResult('a'.repeat(MAX_RESULT_BYTES - 2))).toBeNull();
  });

  it('rejects a result one byte over the limit', () => {
    expect(unstorableResult('a'.repeat(MAX_RESULT_BYTES - 1))).toBe(
      `the handler's result is larger than ${MAX_RESULT_BYTES} bytes`,
    );
  });

  it('measures bytes, not characters', () => {
    const multiByte = 'é'.repeat(MAX_RESULT_BYTES / 2);
    expect(multiByte.length).toBeLessThan(MAX_RESULT_BYTES);
    expect(unstorableResult(multiByte)).toMatch(/larger than/);
  });
});

describe('outcomeOfFailure', () => {
  function command(retryCount: number, maxRetries: number): TaskCommand {
    return {
      task_id: '0190d9a8-0000-7000-8000-000000000000',
      task_name: TaskName.DiagnosticFail,
      task_type: TaskType.Email,
      params: { message: 'boom' },
      priority: 5,
      max_retries: maxRetries,
      retry_count: retryCount,
      timeout_ms: 60_000,
    };
  }

  it.each([
    [0, 3, 1],
    [1, 3, 2],
    [2, 3, 3],
    [0, 1, 1],
    [9, 10, 10],
  ])('retries attempt %p of max_retries %p as attempt %p', (retryCount, maxRetries, next) => {
    expect(outcomeOfFailure(command(retryCount, maxRetries), new Error('boom'))).toEqual({
      kind: 'retry',
      errorMessage: 'boom',
      nextRetryCount: next,
    });
  });

  it.each([
    [3, 3],
    [0, 0],
    [10, 10],
  ])('fails attempt %p of max_retries %p, the last one', (retryCount, maxRetries) => {
    expect(outcomeOfFailure(command(retryCount, maxRetries), new Error('boom'))).toEqual({
      kind: 'failed',
      errorMessage: 'boom',
    });
  });

  it('fails a PermanentTaskError at once, with retries left', () => {
    expect(outcomeOfFailure(command(0, 3), new PermanentTaskError('bad recipient'))).toEqual({
      kind: 'failed',
      errorMessage: 'bad recipient',
    });
  });

  it('treats a timeout like any error: retried while retries remain, then failed', () => {
    expect(outcomeOfFailure(command(0, 1), new TaskTimeoutError(300))).toEqual({
      kind: 'retry',
      errorMessage: 'the task timed out after 300 ms',
      nextRetryCount: 1,
    });
    expect(outcomeOfFailure(command(1, 1), new TaskTimeoutError(300))).toEqual({
      kind: 'failed',
      errorMessage: 'the task timed out after 300 ms',
    });
  });

  it('describes a thrown non-Error', () => {
    expect(outcomeOfFailure(command(0, 3), 'went wrong')).toMatchObject({ kind: 'retry', errorMessage: 'went wrong' });
  });
});

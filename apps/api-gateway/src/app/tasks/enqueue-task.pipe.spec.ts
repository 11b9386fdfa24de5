import { BadRequestException } from '@nestjs/common';
import { EnqueueTaskPipe } from './enqueue-task.pipe';

function rejection(body: unknown): BadRequestException {
  try {
    new EnqueueTaskPipe().transform(body);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return error as BadRequestException;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
}

function errorFields(error: BadRequestException): string[] {
  const response = error.getResponse() as { errors: Array<{ field: string; message: string }> };
  return [...new Set(response.errors.map((fieldError) => fieldError.field))].sort();
}

describe('EnqueueTaskPipe', () => {
  it('returns the validated request with defaults applied', () => {
    expect(new EnqueueTaskPipe().transform({ task_name: 'analytics.task_stats' })).toEqual({
      task_name: 'analytics.task_stats',
      task_type: 'analytics',
      params: {},
      priority: 5,
      max_retries: 3,
      timeout_ms: 300_000,
      run_at: null,
      delay_ms: null,
      schedule: null,
      idempotency_key: null,
    });
  });

  it('names each bad field in one 400', () => {
    const error = rejection({
      task_name: 'email.send',
      params: { to: 'nobody', subject: 'Hi', body: 'x' },
      priority: 42,
      max_retries: -1,
      colour: 'blue',
    });
    expect(error.getStatus()).toBe(400);
    expect(errorFields(error)).toEqual(['colour', 'max_retries', 'params.to', 'priority']);
    expect(error.getResponse()).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringMatching(/^Invalid request: /),
    });
  });

  it('lists each bad field once in the message', () => {
    const error = rejection({ task_name: 'diagnostic.fail', task_type: 'email' });
    expect((error.getResponse() as { message: string }).message).toBe('Invalid request: params.message');
  });

  it.each([null, 'text', [1, 2]])('rejects the non-object body %p', (body) => {
    expect(errorFields(rejection(body))).toEqual(['(body)']);
  });
});

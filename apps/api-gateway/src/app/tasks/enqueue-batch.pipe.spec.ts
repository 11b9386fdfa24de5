import { BadRequestException } from '@nestjs/common';
import { EnqueueBatchPipe } from './enqueue-batch.pipe';

const sleep = { task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 0 } };

function rejection(body: unknown): { fields: string[]; message: string } {
  try {
    new EnqueueBatchPipe().transform(body);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    const response = (error as BadRequestException).getResponse() as {
      message: string;
      errors: Array<{ field: string; message: string }>;
    };
    return { fields: response.errors.map((fieldError) => fieldError.field), message: response.message };
  }
  throw new Error(`expected ${JSON.stringify(body).slice(0, 200)} to be rejected`);
}

describe('EnqueueBatchPipe', () => {
  it('returns the validated requests in order, defaults applied', () => {
    const tasks = new EnqueueBatchPipe().transform({ tasks: [sleep, { ...sleep, priority: 10 }] });
    expect(tasks.map((task) => [task.task_name, task.task_type, task.priority, task.max_retries])).toEqual([
      ['diagnostic.sleep', 'email', 5, 3],
      ['diagnostic.sleep', 'email', 10, 3],
    ]);
  });

  it('accepts 1 and 1,000 items', () => {
    expect(new EnqueueBatchPipe().transform({ tasks: [sleep] })).toHaveLength(1);
    expect(new EnqueueBatchPipe().transform({ tasks: Array.from({ length: 1_000 }, () => sleep) })).toHaveLength(1_000);
  });

  it('answers 400 for an empty batch and for more than 1,000 items', () => {
    expect(rejection({ tasks: [] }).fields).toEqual(['tasks']);
    expect(rejection({ tasks: Array.from({ length: 1_001 }, () => sleep) }).fields).toEqual(['tasks']);
  });

  it('names each bad field with its index in one 400, all or nothing', () => {
    const { fields, message } = rejection({
      tasks: [
        sleep,
        { task_name: 'email.send', params: { to: 'nobody', subject: 'Hi', body: 'x' } },
        sleep,
        { ...sleep, priority: 0 },
      ],
    });
    expect(fields).toEqual(['tasks[1].params.to', 'tasks[3].priority']);
    expect(message).toBe('Invalid request: tasks[1].params.to, tasks[3].priority');
  });
});

import { BadRequestException } from '@nestjs/common';
import { TaskIdPipe } from './task-id.pipe';

const id = '0190d9a8-4c2e-7a3b-8f1d-2b3c4d5e6f70';

function rejection(value: string): BadRequestException {
  try {
    new TaskIdPipe().transform(value);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return error as BadRequestException;
  }
  throw new Error(`expected ${value} to be rejected`);
}

describe('TaskIdPipe', () => {
  it.each([
    [id, id],
    [id.toUpperCase(), id],
    ['0190D9A8-4c2e-7A3B-8f1d-2B3C4D5E6F70', id],
  ])('accepts %s as %s', (value, expected) => {
    expect(new TaskIdPipe().transform(value)).toBe(expected);
  });

  it.each(['', 'abc', '42', id.replace(/-/g, ''), `${id}0`, ` ${id}`, `${id.slice(0, -1)}g`])(
    'rejects %p with a 400 naming task_id',
    (value) => {
      const error = rejection(value);
      expect(error.getStatus()).toBe(400);
      expect(error.getResponse()).toMatchObject({
        statusCode: 400,
        errors: [{ field: 'task_id', message: 'task_id must be a UUID' }],
      });
    },
  );
});

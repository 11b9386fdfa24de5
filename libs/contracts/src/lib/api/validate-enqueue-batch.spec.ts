import { TaskName } from '../tasks/task-name.enum';
import { TaskType } from '../tasks/task-type.enum';
import { FieldError } from '../validation/validate-dto';
import { EnqueueBatchSize, MAX_BATCH_REPORTED_ERRORS, validateEnqueueBatch } from './validate-enqueue-batch';

const email = { to: 'someone@example.com', subject: 'Hello', body: 'Hi there' };
const sleep = (ms: number, priority?: number) => ({
  task_name: 'diagnostic.sleep',
  task_type: 'email',
  params: { ms },
  ...(priority === undefined ? {} : { priority }),
});

function errorsOf(body: unknown): FieldError[] {
  const result = validateEnqueueBatch(body);
  if (result.ok) {
    throw new Error(`expected ${JSON.stringify(body).slice(0, 200)} to be invalid`);
  }
  return result.errors;
}

const fieldsOf = (body: unknown): string[] => errorsOf(body).map((error) => error.field);

describe('validateEnqueueBatch', () => {
  it('validates each item like a single enqueue, defaults applied, in order', () => {
    const result = validateEnqueueBatch({
      tasks: [{ task_name: 'email.send', params: email, priority: 9 }, sleep(0), { task_name: 'cleanup.purge_tasks' }],
    });
    expect(result).toEqual({
      ok: true,
      value: [
        {
          task_name: TaskName.EmailSend,
          task_type: TaskType.Email,
          params: email,
          priority: 9,
          max_retries: 3,
          timeout_ms: expect.any(Number),
          run_at: null,
          delay_ms: null,
          schedule: null,
          idempotency_key: null,
        },
        {
          task_name: TaskName.DiagnosticSleep,
          task_type: TaskType.Email,
          params: { ms: 0 },
          priority: 5,
          max_retries: 3,
          timeout_ms: expect.any(Number),
          run_at: null,
          delay_ms: null,
          schedule: null,
          idempotency_key: null,
        },
        {
          task_name: TaskName.CleanupPurgeTasks,
          task_type: TaskType.Cleanup,
          params: {},
          priority: 5,
          max_retries: 3,
          timeout_ms: 1_800_000,
          run_at: null,
          delay_ms: null,
          schedule: null,
          idempotency_key: null,
        },
      ],
    });
  });

  it.each([EnqueueBatchSize.Min, EnqueueBatchSize.Max])('accepts %d items', (count) => {
    const result = validateEnqueueBatch({ tasks: Array.from({ length: count }, () => sleep(0)) });
    expect(result.ok && result.value.length).toBe(count);
  });

  it('rejects an empty array', () => {
    expect(errorsOf({ tasks: [] })).toEqual([
      { field: 'tasks', message: 'tasks must hold 1 to 1000 enqueue requests (got 0)' },
    ]);
  });

  it('rejects more than 1,000 items without validating them', () => {
    const tasks = Array.from({ length: EnqueueBatchSize.Max + 1 }, () => ({ task_name: 'nope' }));
    expect(errorsOf({ tasks })).toEqual([
      { field: 'tasks', message: 'tasks must hold 1 to 1000 enqueue requests (got 1001)' },
    ]);
  });

  it('names each bad field with the index of its item, all at once', () => {
    const errors = errorsOf({
      tasks: [
        sleep(0),
        { task_name: 'email.send', params: { ...email, to: 'nobody' } },
        sleep(0),
        { task_name: 'email.send', params: { ...email, to: 'nobody' }, priority: 42, colour: 'blue' },
      ],
    });
    expect([...new Set(errors.map((error) => error.field))].sort()).toEqual([
      'tasks[1].params.to',
      'tasks[3].colour',
      'tasks[3].params.to',
      'tasks[3].priority',
    ]);
    expect(errors.find((error) => error.field === 'tasks[1].params.to')?.message).toBe(
      'tasks[1].params.to must be an email',
    );
    expect(errors.find((error) => error.field === 'tasks[3].priority')?.message).toBe(
      'tasks[3].priority must not be greater than 10',
    );
  });

  it('names a missing task_type of a diagnostic task by index', () => {
    expect(fieldsOf({ tasks: [sleep(0), { task_name: 'diagnostic.sleep', params: { ms: 1 } }] })).toEqual([
      'tasks[1].task_type',
    ]);
  });

  it.each([null, 'text', 7, [sleep(0)]])('rejects the item %p, naming tasks[0]', (item) => {
    const errors = errorsOf({ tasks: [item] });
    expect(errors.map((error) => error.field)).toEqual(['tasks[0]']);
    expect(errors[0].message).toMatch(/^tasks\[0\]/);
  });

  it.each([
    [null, '(body)'],
    ['text', '(body)'],
    [[sleep(0)], '(body)'],
    [{}, 'tasks'],
    [{ tasks: 'all of them' }, 'tasks'],
    [{ tasks: { 0: sleep(0) } }, 'tasks'],
  ])('rejects the body %p, naming %s', (body, field) => {
    expect(fieldsOf(body)).toEqual([field]);
  });

  it('rejects unknown properties beside tasks', () => {
    expect(fieldsOf({ tasks: [sleep(0)], atomic: false })).toEqual(['atomic']);
  });

  it('refuses hostile structure anywhere in the batch, naming where', () => {
    const hostile = JSON.parse(
      '{"tasks":[{"task_name":"diagnostic.sleep","task_type":"email","params":{"ms":1}},{"__proto__":{}}]}',
    );
    expect(fieldsOf(hostile)).toEqual(['tasks[1].__proto__']);
    expect(fieldsOf({ tasks: [sleep(0), sleep(Number.POSITIVE_INFINITY)] })).toEqual(['tasks[1].params.ms']);
  });

  it(`reports at most ${MAX_BATCH_REPORTED_ERRORS} problems, the first items first`, () => {
    const tasks = Array.from({ length: 1_000 }, () => ({ task_name: 'email.send', params: {}, priority: 0 }));
    const errors = errorsOf({ tasks });
    expect(errors).toHaveLength(MAX_BATCH_REPORTED_ERRORS);
    expect(errors[0].field).toMatch(/^tasks\[0\]\./);
  });
});

import { FieldError, Validated, isPlainObject } from '../validation/validate-dto';
import { inspectJsonValue } from '../validation/json-safety';
import { ValidEnqueueTask, validateEnqueueTask } from './validate-enqueue-task';

/** Bounds of the number of tasks in one `POST /api/tasks/enqueue/batch`. */
export const EnqueueBatchSize = {
  Min: 1,
  Max: 1_000,
} as const;

/**
 * At most this many problems are reported for one batch (the first ones, in item order): a batch
 * of 1,000 bad items would otherwise answer with thousands.
 */
export const MAX_BATCH_REPORTED_ERRORS = 200;

/** Body of `POST /api/tasks/enqueue/batch`: up to {@link EnqueueBatchSize.Max} enqueue requests. */
export interface EnqueueBatchBody {
  tasks: unknown[];
}

/** Moves an item's problem under `tasks[index]`: `params.to` → `tasks[3].params.to`. */
function underItem(error: FieldError, index: number): FieldError {
  const item = `tasks[${index}]`;
  if (error.field === '(body)') {
    const message = error.message.startsWith('body ') ? `${item}${error.message.slice('body'.length)}` : error.message;
    return { field: item, message: message === error.message ? `${item}: ${message}` : message };
  }
  const field = `${item}.${error.field}`;
  const message = error.message.startsWith(error.field)
    ? `${field}${error.message.slice(error.field.length)}`
    : `${item}: ${error.message}`;
  return { field, message };
}

/**
 * Validates a batch enqueue body all or nothing: `{tasks: [...]}` with 1 to 1,000 items, each
 * validated exactly like a single enqueue (`validateEnqueueTask`). Every problem is named with the
 * index of its item (`tasks[3].params.to`); one bad item rejects the whole batch.
 */
export function validateEnqueueBatch(body: unknown, now: Date = new Date()): Validated<ValidEnqueueTask[]> {
  const unsafe = inspectJsonValue(body);
  if (unsafe.length > 0) {
    return { ok: false, errors: unsafe };
  }
  if (!isPlainObject(body)) {
    return { ok: false, errors: [{ field: '(body)', message: 'body must be a JSON object with a tasks array' }] };
  }
  const errors: FieldError[] = Object.keys(body)
    .filter((key) => key !== 'tasks')
    .map((key) => ({ field: key, message: `property ${key} should not exist` }));
  const tasks = body['tasks'];
  if (!Array.isArray(tasks)) {
    errors.push({ field: 'tasks', message: 'tasks must be an array of enqueue requests' });
    return { ok: false, errors };
  }
  if (tasks.length < EnqueueBatchSize.Min || tasks.length > EnqueueBatchSize.Max) {
    errors.push({
      field: 'tasks',
      message: `tasks must hold ${EnqueueBatchSize.Min} to ${EnqueueBatchSize.Max} enqueue requests (got ${tasks.length})`,
    });
    return { ok: false, errors };
  }
  const valid: ValidEnqueueTask[] = [];
  tasks.forEach((item, index) => {
    const validated = validateEnqueueTask(item, now);
    if (validated.ok) {
      valid.push(validated.value);
    } else {
      errors.push(...validated.errors.map((error) => underItem(error, index)));
    }
  });
  if (errors.length > 0) {
    return { ok: false, errors: errors.slice(0, MAX_BATCH_REPORTED_ERRORS) };
  }
  return { ok: true, value: valid };
}

import { isTaskName, taskDefinition } from '../tasks/task-catalogue';
import { TaskRetries, TaskPriority, TaskTimeout } from '../tasks/task-limits';
import { TASK_TYPES, TaskType } from '../tasks/task-type.enum';
import { isPlainObject } from '../validation/validate-dto';
import { validateTaskParams } from '../validation/validate-task-params';
import { TaskCommand } from './task-command';
import { TaskControlMessage, TaskControlType } from './task-control';
import { TASK_EVENT_TYPES, TaskEvent, TaskEventType } from './task-event';
import { isTaskId } from './task-id';

export type Decoded<T> =
  | { ok: true; value: T }
  | { ok: false; reason: string; /** The task id, when the message carried a readable one. */ taskId?: string };

/**
 * Most lifecycle events one message may carry. Events of one type that are published together
 * travel as one message (a JSON array): a consumer acknowledges them together, after all of them
 * are handled.
 */
export const MAX_EVENTS_PER_MESSAGE = 1_000;

export function encodeMessage(message: TaskCommand | TaskEvent | TaskControlMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** One event as a JSON object, several as a JSON array of them (see {@link decodeTaskEvents}). */
export function encodeEvents(events: readonly TaskEvent[]): Buffer {
  if (events.length === 0 || events.length > MAX_EVENTS_PER_MESSAGE) {
    throw new RangeError(`an event message carries 1 to ${MAX_EVENTS_PER_MESSAGE} events, not ${events.length}`);
  }
  return Buffer.from(JSON.stringify(events.length === 1 ? events[0] : events));
}

function parseJson(content: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(content.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function parseJsonObject(content: Buffer): Record<string, unknown> | string {
  const parsed = parseJson(content);
  if (!parsed.ok) {
    return 'message body is not valid JSON';
  }
  return isPlainObject(parsed.value) ? parsed.value : 'message body is not a JSON object';
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Decodes and fully validates a task command consumed from the queue of `queueType`:
 * the envelope, the catalogue entry and the params DTO. Anything else is a poison message.
 */
export function decodeTaskCommand(content: Buffer, queueType: TaskType): Decoded<TaskCommand> {
  const body = parseJsonObject(content);
  if (typeof body === 'string') {
    return { ok: false, reason: body };
  }
  const taskId = isTaskId(body['task_id']) ? body['task_id'] : undefined;
  const fail = (reason: string): Decoded<TaskCommand> => ({ ok: false, reason, taskId });
  if (taskId === undefined) {
    return fail('task_id must be a UUID');
  }
  const name = body['task_name'];
  if (!isTaskName(name)) {
    return fail(`unknown task_name ${JSON.stringify(name)}`);
  }
  const type = body['task_type'];
  if (type !== queueType || !taskDefinition(name).types.includes(queueType)) {
    return fail(`task ${name} of type ${JSON.stringify(type)} does not belong on the ${queueType} queue`);
  }
  const maxRetries = body['max_retries'];
  if (!isIntegerIn(maxRetries, TaskRetries.Min, TaskRetries.Max)) {
    return fail(`max_retries must be an integer from ${TaskRetries.Min} to ${TaskRetries.Max}`);
  }
  const retryCount = body['retry_count'];
  if (!isIntegerIn(retryCount, 0, maxRetries)) {
    return fail(`retry_count must be an integer from 0 to max_retries (${maxRetries})`);
  }
  const priority = body['priority'];
  if (!isIntegerIn(priority, TaskPriority.Min, TaskPriority.Max)) {
    return fail(`priority must be an integer from ${TaskPriority.Min} to ${TaskPriority.Max}`);
  }
  // Commands published before timeouts existed carry none: the catalogue's default applies.
  const timeoutMs = body['timeout_ms'] ?? taskDefinition(name).defaultTimeoutMs;
  if (!isIntegerIn(timeoutMs, TaskTimeout.MinMs, TaskTimeout.MaxMs)) {
    return fail(`timeout_ms must be an integer from ${TaskTimeout.MinMs} to ${TaskTimeout.MaxMs}`);
  }
  const params = validateTaskParams(name, body['params']);
  if (!params.ok) {
    return fail(`invalid params: ${params.errors.map((error) => error.message).join('; ')}`);
  }
  return {
    ok: true,
    value: {
      task_id: taskId,
      task_name: name,
      task_type: queueType,
      params: params.value,
      priority,
      max_retries: maxRetries,
      retry_count: retryCount,
      timeout_ms: timeoutMs,
    },
  };
}

/**
 * Decodes an event message: one event (a JSON object) or several (a JSON array of 1 to
 * {@link MAX_EVENTS_PER_MESSAGE} objects). Each event is decoded on its own, so a malformed one
 * does not spoil the others; a body that is neither is refused as a whole.
 */
export function decodeTaskEvents(
  content: Buffer,
): { ok: true; events: Array<Decoded<TaskEvent>> } | { ok: false; reason: string } {
  const parsed = parseJson(content);
  if (!parsed.ok) {
    return { ok: false, reason: 'message body is not valid JSON' };
  }
  const body = parsed.value;
  if (!Array.isArray(body)) {
    return isPlainObject(body)
      ? { ok: true, events: [decodeEventBody(body)] }
      : { ok: false, reason: 'message body is neither an event (a JSON object) nor an array of events' };
  }
  if (body.length === 0 || body.length > MAX_EVENTS_PER_MESSAGE) {
    return { ok: false, reason: `an event message carries 1 to ${MAX_EVENTS_PER_MESSAGE} events, not ${body.length}` };
  }
  return {
    ok: true,
    events: body.map((element: unknown) =>
      isPlainObject(element) ? decodeEventBody(element) : { ok: false, reason: 'an event is not a JSON object' },
    ),
  };
}

function decodeEventBody(body: Record<string, unknown>): Decoded<TaskEvent> {
  const taskId = isTaskId(body['task_id']) ? body['task_id'] : undefined;
  const fail = (reason: string): Decoded<TaskEvent> => ({ ok: false, reason, taskId });
  if (taskId === undefined) {
    return fail('task_id must be a UUID');
  }
  const type = body['event'];
  if (!TASK_EVENT_TYPES.includes(type as TaskEventType)) {
    return fail(`unknown event ${JSON.stringify(type)}`);
  }
  if (!isTaskName(body['task_name'])) {
    return fail(`unknown task_name ${JSON.stringify(body['task_name'])}`);
  }
  if (!TASK_TYPES.includes(body['task_type'] as TaskType)) {
    return fail(`unknown task_type ${JSON.stringify(body['task_type'])}`);
  }
  if (!isIntegerIn(body['retry_count'], 0, TaskRetries.Max)) {
    return fail('retry_count must be an integer from 0 to 10');
  }
  if (!isIntegerIn(body['attempt'], 1, Number.MAX_SAFE_INTEGER)) {
    return fail('attempt must be a positive integer');
  }
  const occurredAt = body['occurred_at'];
  if (typeof occurredAt !== 'string' || Number.isNaN(Date.parse(occurredAt))) {
    return fail('occurred_at must be an ISO-8601 timestamp');
  }
  const event = type as TaskEventType;
  switch (event) {
    case TaskEventType.Failed:
    case TaskEventType.Retrying:
      if (typeof body['error_message'] !== 'string') {
        return fail('error_message must be a string');
      }
      if (event === TaskEventType.Retrying && !isIntegerIn(body['delay_ms'], 0, Number.MAX_SAFE_INTEGER)) {
        return fail('delay_ms must be a non-negative integer');
      }
      break;
    case TaskEventType.Succeeded:
      if (!('result' in body)) {
        return fail('result is missing');
      }
      break;
    case TaskEventType.Started:
    case TaskEventType.Cancelled:
      break;
  }
  return { ok: true, value: body as unknown as TaskEvent };
}

/** Decodes a control message; anything else is ignored by the caller. */
export function decodeTaskControl(content: Buffer): Decoded<TaskControlMessage> {
  const body = parseJsonObject(content);
  if (typeof body === 'string') {
    return { ok: false, reason: body };
  }
  if (!Object.values(TaskControlType).includes(body['type'] as TaskControlType)) {
    return { ok: false, reason: `unknown control type ${JSON.stringify(body['type'])}` };
  }
  if (!isTaskId(body['task_id'])) {
    return { ok: false, reason: 'task_id must be a UUID' };
  }
  if (!isIntegerIn(body['attempt'], 1, Number.MAX_SAFE_INTEGER)) {
    return { ok: false, reason: 'attempt must be a positive integer' };
  }
  return {
    ok: true,
    value: { type: body['type'] as TaskControlType, task_id: body['task_id'], attempt: body['attempt'] },
  };
}

import { TaskName } from '../tasks/task-name.enum';
import { TaskType } from '../tasks/task-type.enum';
import {
  MAX_EVENTS_PER_MESSAGE,
  decodeTaskCommand,
  decodeTaskControl,
  decodeTaskEvents,
  encodeEvents,
  encodeMessage,
} from './message-codec';
import { TaskCommand } from './task-command';
import { TaskControlMessage, TaskControlType } from './task-control';
import { TaskEvent, TaskEventType } from './task-event';
import { newTaskId } from './task-id';

const taskId = newTaskId(Date.UTC(2025, 0, 1));

const command: TaskCommand<TaskName.EmailSend> = {
  task_id: taskId,
  task_name: TaskName.EmailSend,
  task_type: TaskType.Email,
  params: { to: 'someone@example.com', subject: 'Hello', body: 'Hi' },
  priority: 5,
  max_retries: 3,
  retry_count: 0,
  timeout_ms: 60_000,
};

function raw(body: unknown): Buffer {
  return Buffer.from(JSON.stringify(body));
}

describe('decodeTaskCommand', () => {
  it('decodes a valid command encoded by encodeMessage', () => {
    expect(decodeTaskCommand(encodeMessage(command), TaskType.Email)).toEqual({ ok: true, value: command });
  });

  it('accepts a diagnostic task on any queue whose type it carries', () => {
    const sleep = { ...command, task_name: TaskName.DiagnosticSleep, task_type: TaskType.Report, params: { ms: 1 } };
    expect(decodeTaskCommand(raw(sleep), TaskType.Report)).toEqual({ ok: true, value: sleep });
  });

  it.each([
    ['not JSON', Buffer.from('{"task_id":'), 'message body is not valid JSON'],
    ['an array', raw([command]), 'message body is not a JSON object'],
    ['a string', raw('text'), 'message body is not a JSON object'],
    ['null', raw(null), 'message body is not a JSON object'],
  ])('rejects a body that is %s, without a task id', (_, content, reason) => {
    expect(decodeTaskCommand(content, TaskType.Email)).toEqual({ ok: false, reason });
  });

  it.each([
    ['missing', undefined],
    ['not a UUID', 'task-1'],
    ['an upper-case UUID', taskId.toUpperCase()],
    ['a number', 7],
  ])('rejects a task_id that is %s, without a task id', (_, badId) => {
    const decoded = decodeTaskCommand(raw({ ...command, task_id: badId }), TaskType.Email);
    expect(decoded).toEqual({ ok: false, reason: 'task_id must be a UUID', taskId: undefined });
  });

  it.each([
    ['an unknown task_name', { task_name: 'email.spam' }, /unknown task_name "email.spam"/],
    ['a task_type other than the queue', { task_type: TaskType.Report }, /does not belong on the email queue/],
    ['max_retries above the limit', { max_retries: 11 }, /max_retries must be an integer/],
    ['retry_count above max_retries', { retry_count: 4 }, /retry_count must be an integer from 0 to max_retries \(3\)/],
    ['a negative retry_count', { retry_count: -1 }, /retry_count/],
    ['a priority out of range', { priority: 0 }, /priority must be an integer/],
    ['a string priority', { priority: '5' }, /priority must be an integer/],
    [
      'invalid params',
      { params: { to: 'nope', subject: 'Hello', body: 'Hi' } },
      /^invalid params: params\.to must be an email/,
    ],
    [
      'unknown params',
      { params: { ...command.params, cc: 'x@example.com' } },
      /^invalid params: property params\.cc should not exist/,
    ],
  ])('rejects %s and keeps the task id', (_, change, reason) => {
    const decoded = decodeTaskCommand(raw({ ...command, ...change }), TaskType.Email);
    expect(decoded).toEqual({ ok: false, reason: expect.stringMatching(reason), taskId });
  });

  it('rejects a task whose type matches the message but not the consuming queue', () => {
    const decoded = decodeTaskCommand(encodeMessage(command), TaskType.Report);
    expect(decoded).toEqual({
      ok: false,
      reason: expect.stringContaining('does not belong on the report queue'),
      taskId,
    });
  });
});

/** The event of a single-event message, or why the message was refused as a whole. */
function decodeTaskEvent(content: Buffer) {
  const decoded = decodeTaskEvents(content);
  if (decoded.ok && decoded.events.length !== 1) {
    throw new Error(`expected one event, got ${decoded.events.length}`);
  }
  return decoded.ok ? decoded.events[0] : decoded;
}

describe('decodeTaskEvents: a single event (a JSON object)', () => {
  const base = {
    task_id: taskId,
    task_name: TaskName.EmailSend,
    task_type: TaskType.Email,
    retry_count: 1,
    attempt: 2,
    occurred_at: '2025-01-01T00:00:00.000Z',
  };

  it.each([
    [TaskEventType.Started, {}],
    [TaskEventType.Succeeded, { result: { message_id: 'm' } }],
    [TaskEventType.Succeeded, { result: null }],
    [TaskEventType.Failed, { error_message: 'boom' }],
    [TaskEventType.Retrying, { error_message: 'boom', delay_ms: 1000 }],
    [TaskEventType.Cancelled, {}],
  ])('decodes a valid %s event', (event, extra) => {
    const message = { ...base, event, ...extra };
    expect(decodeTaskEvent(raw(message))).toEqual({ ok: true, value: message });
  });

  it.each([
    ['failed without error_message', { event: 'failed' }, 'error_message must be a string'],
    ['retrying without error_message', { event: 'retrying', delay_ms: 10 }, 'error_message must be a string'],
    ['retrying without delay_ms', { event: 'retrying', error_message: 'x' }, 'delay_ms must be a non-negative integer'],
    [
      'retrying with a negative delay_ms',
      { event: 'retrying', error_message: 'x', delay_ms: -1 },
      'delay_ms must be a non-negative integer',
    ],
    ['succeeded without result', { event: 'succeeded' }, 'result is missing'],
    ['an unknown event', { event: 'exploded' }, 'unknown event "exploded"'],
    ['an unknown task_name', { event: 'started', task_name: 'x.y' }, 'unknown task_name "x.y"'],
    ['an unknown task_type', { event: 'started', task_type: 'sms' }, 'unknown task_type "sms"'],
    ['retry_count above 10', { event: 'started', retry_count: 11 }, 'retry_count must be an integer from 0 to 10'],
    ['a missing attempt', { event: 'started', attempt: undefined }, 'attempt must be a positive integer'],
    ['attempt 0', { event: 'started', attempt: 0 }, 'attempt must be a positive integer'],
    ['a negative attempt', { event: 'started', attempt: -1 }, 'attempt must be a positive integer'],
    ['a fractional attempt', { event: 'started', attempt: 1.5 }, 'attempt must be a positive integer'],
    ['a string attempt', { event: 'started', attempt: '2' }, 'attempt must be a positive integer'],
    ['a bad occurred_at', { event: 'started', occurred_at: 'yesterday' }, 'occurred_at must be an ISO-8601 timestamp'],
    [
      'a numeric occurred_at',
      { event: 'started', occurred_at: 1735689600000 },
      'occurred_at must be an ISO-8601 timestamp',
    ],
  ])('rejects %s and keeps the task id', (_, change, reason) => {
    expect(decodeTaskEvent(raw({ ...base, ...change }))).toEqual({ ok: false, reason, taskId });
  });

  it('rejects an event without a valid task_id', () => {
    expect(decodeTaskEvent(raw({ ...base, event: 'started', task_id: 'x' }))).toEqual({
      ok: false,
      reason: 'task_id must be a UUID',
      taskId: undefined,
    });
  });

  it('rejects a body that is not JSON', () => {
    expect(decodeTaskEvent(Buffer.from('nope'))).toEqual({ ok: false, reason: 'message body is not valid JSON' });
  });
});

describe('encodeEvents / decodeTaskEvents', () => {
  const started = (id: string): TaskEvent => ({
    event: TaskEventType.Started,
    task_id: id,
    task_name: TaskName.EmailSend,
    task_type: TaskType.Email,
    retry_count: 0,
    attempt: 1,
    occurred_at: '2025-01-01T00:00:00.000Z',
  });
  const one = started(taskId);
  const other = started(newTaskId(Date.UTC(2025, 0, 2)));

  it('encodes a single event as the event itself, as before events travelled together', () => {
    expect(JSON.parse(encodeEvents([one]).toString())).toEqual(one);
    expect(decodeTaskEvents(encodeEvents([one]))).toEqual({ ok: true, events: [{ ok: true, value: one }] });
  });

  it('round-trips several events as one JSON array, in order', () => {
    const content = encodeEvents([one, other]);
    expect(Array.isArray(JSON.parse(content.toString()))).toBe(true);
    expect(decodeTaskEvents(content)).toEqual({
      ok: true,
      events: [
        { ok: true, value: one },
        { ok: true, value: other },
      ],
    });
  });

  it('decodes a single-event message as one event', () => {
    expect(decodeTaskEvents(raw(one))).toEqual({ ok: true, events: [{ ok: true, value: one }] });
  });

  it('decodes each event on its own: a malformed one does not spoil the others', () => {
    expect(decodeTaskEvents(raw([one, { ...other, attempt: 0 }, 7]))).toEqual({
      ok: true,
      events: [
        { ok: true, value: one },
        { ok: false, reason: 'attempt must be a positive integer', taskId: other.task_id },
        { ok: false, reason: 'an event is not a JSON object' },
      ],
    });
  });

  it.each([
    ['not JSON', Buffer.from('[{'), 'message body is not valid JSON'],
    ['a string', raw('started'), 'message body is neither an event (a JSON object) nor an array of events'],
    ['null', raw(null), 'message body is neither an event (a JSON object) nor an array of events'],
    ['an empty array', raw([]), `an event message carries 1 to ${MAX_EVENTS_PER_MESSAGE} events, not 0`],
    [
      'too many events',
      raw(Array.from({ length: MAX_EVENTS_PER_MESSAGE + 1 }, () => one)),
      `an event message carries 1 to ${MAX_EVENTS_PER_MESSAGE} events, not ${MAX_EVENTS_PER_MESSAGE + 1}`,
    ],
  ])('refuses a body that is %s as a whole', (_, content, reason) => {
    expect(decodeTaskEvents(content)).toEqual({ ok: false, reason });
  });

  it('refuses to encode no events, or more than a message may carry', () => {
    expect(() => encodeEvents([])).toThrow(RangeError);
    expect(() => encodeEvents(Array.from({ length: MAX_EVENTS_PER_MESSAGE + 1 }, () => one))).toThrow(RangeError);
  });
});

describe('decodeTaskControl', () => {
  const cancel: TaskControlMessage = { type: TaskControlType.Cancel, task_id: taskId, attempt: 3 };

  it('decodes a cancel encoded by encodeMessage', () => {
    expect(decodeTaskControl(encodeMessage(cancel))).toEqual({ ok: true, value: cancel });
  });

  it('keeps only the type, the task id and the attempt', () => {
    const decoded = decodeTaskControl(raw({ ...cancel, extra: 'ignored' }));
    expect(decoded).toEqual({ ok: true, value: cancel });
    expect(decoded.ok && Object.keys(decoded.value).sort()).toEqual(['attempt', 'task_id', 'type']);
  });

  it.each([
    ['missing', undefined],
    ['zero', 0],
    ['fractional', 1.5],
    ['a string', '2'],
  ])('rejects an attempt that is %s', (_case, attempt) => {
    expect(decodeTaskControl(raw({ ...cancel, attempt }))).toEqual({
      ok: false,
      reason: 'attempt must be a positive integer',
    });
  });

  it.each([
    ['not JSON', Buffer.from('{"type":'), 'message body is not valid JSON'],
    ['an array', raw([cancel]), 'message body is not a JSON object'],
    ['null', raw(null), 'message body is not a JSON object'],
    ['without a type', raw({ task_id: taskId }), 'unknown control type undefined'],
    ['of an unknown type', raw({ ...cancel, type: 'pause' }), 'unknown control type "pause"'],
    ['of an upper-case type', raw({ ...cancel, type: 'CANCEL' }), 'unknown control type "CANCEL"'],
    ['with a numeric type', raw({ ...cancel, type: 1 }), 'unknown control type 1'],
    ['without a task_id', raw({ type: TaskControlType.Cancel }), 'task_id must be a UUID'],
    ['with a task_id that is not a UUID', raw({ ...cancel, task_id: 'task-1' }), 'task_id must be a UUID'],
    ['with an upper-case task_id', raw({ ...cancel, task_id: taskId.toUpperCase() }), 'task_id must be a UUID'],
  ])('rejects a message %s', (_, content, reason) => {
    expect(decodeTaskControl(content)).toEqual({ ok: false, reason });
  });
});

import { FieldError } from '../validation/validate-dto';
import { MAX_JSON_DEPTH } from '../validation/json-safety';
import { validateTaskParams } from '../validation/validate-task-params';
import { TaskName } from '../tasks/task-name.enum';
import { MAX_PARAMS_BYTES, paramsSizeError, validateEnqueueTask } from './validate-enqueue-task';

/** Hardened input: size of params, prototype keys, unicode and numbers (issue #4). */

function errorsOf(body: unknown): FieldError[] {
  const result = validateEnqueueTask(body);
  if (result.ok) {
    throw new Error(`expected ${JSON.stringify(body)} to be invalid`);
  }
  return result.errors;
}

/** A `diagnostic.fail` params object whose JSON is exactly `bytes` long. */
function failParamsOfSize(bytes: number, filler = 'x'): Record<string, unknown> {
  const overhead = JSON.stringify({ message: '' }).length;
  return { message: filler.repeat(bytes - overhead) };
}

describe('params size limit', () => {
  it('is 64 KiB', () => {
    expect(MAX_PARAMS_BYTES).toBe(64 * 1024);
  });

  it('accepts params of exactly the limit and refuses one byte more, naming params', () => {
    expect(paramsSizeError(failParamsOfSize(MAX_PARAMS_BYTES))).toBeUndefined();
    expect(paramsSizeError(failParamsOfSize(MAX_PARAMS_BYTES + 1))).toEqual({
      field: 'params',
      message: `params must be at most ${MAX_PARAMS_BYTES} bytes as JSON (got ${MAX_PARAMS_BYTES + 1})`,
    });
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 'é' is 2 bytes in UTF-8: 40,000 of them are 80,000 bytes.
    expect(paramsSizeError({ message: 'é'.repeat(40_000) })?.field).toBe('params');
    expect(paramsSizeError({ message: 'e'.repeat(40_000) })).toBeUndefined();
  });

  it('ignores what is not an object (the DTO reports it)', () => {
    expect(paramsSizeError('x'.repeat(100_000))).toBeUndefined();
    expect(paramsSizeError(undefined)).toBeUndefined();
  });

  it('makes validateEnqueueTask answer one error naming params, before the params DTO', () => {
    const params = { ...failParamsOfSize(MAX_PARAMS_BYTES + 10), unknown_key: 1 };
    const errors = errorsOf({ task_name: 'diagnostic.fail', task_type: 'email', params });
    expect(errors.map((error) => error.field)).toEqual(['params']);
    expect(errors[0].message).toMatch(/^params must be at most 65536 bytes as JSON/);
  });

  it('reports the other bad fields too', () => {
    const errors = errorsOf({
      task_name: 'diagnostic.fail',
      task_type: 'email',
      priority: 99,
      params: { message: 'x'.repeat(70_000) },
    });
    expect(errors.map((error) => error.field).sort()).toEqual(['params', 'priority']);
  });
});

describe('validateEnqueueTask refuses hostile structure before the DTO', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('a %s key, at the top or in params', (key) => {
    const top = JSON.parse(`{"task_name": "email.send", "${key}": {"polluted": true}}`) as unknown;
    expect(errorsOf(top).map((error) => error.field)).toEqual([key]);
    const inParams = JSON.parse(`{"task_name": "analytics.task_stats", "params": {"${key}": {}}}`) as unknown;
    expect(errorsOf(inParams).map((error) => error.field)).toEqual([`params.${key}`]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it.each([
    ['task_name', { task_name: 'email.send\uD800' }],
    ['task_type', { task_name: 'diagnostic.sleep', task_type: '\uDC00', params: { ms: 1 } }],
    ['params.subject', { task_name: 'email.send', params: { to: 'a@b.co', subject: 'Hi \uD83D', body: 'x' } }],
    ['params.message', { task_name: 'diagnostic.fail', task_type: 'email', params: { message: '\uDFFF' } }],
  ])('an unpaired surrogate in %s', (field, body) => {
    const errors = errorsOf(body);
    expect(errors.map((error) => error.field)).toEqual([field]);
    expect(errors[0].message).toContain('well-formed Unicode');
  });

  it.each([
    ['priority', JSON.parse('{"task_name": "email.send", "priority": 1e400}') as unknown],
    ['max_retries', { task_name: 'email.send', max_retries: -(2 ** 60) }],
    ['params.ms', { task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 2 ** 63 } }],
  ])('a number outside the safe range in %s', (field, body) => {
    expect(errorsOf(body).map((error) => error.field)).toEqual([field]);
  });

  it('nesting deeper than the limit, without a stack overflow', () => {
    const deep = JSON.parse(
      `{"task_name": "email.send", "params": {"to": ${'['.repeat(500_000)}${']'.repeat(500_000)}}}`,
    ) as unknown;
    const errors = errorsOf(deep);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toContain(`at most ${MAX_JSON_DEPTH} levels`);
  });

  it('still accepts well-formed unicode: emoji, accents, right-to-left text, NUL', () => {
    const result = validateEnqueueTask({
      task_name: 'email.send',
      params: { to: 'ada@example.com', subject: 'Grüße \u{1F600} \u05E9\u05DC\u05D5\u05DD', body: 'a\u0000b\u202Ec' },
    });
    expect(result.ok).toBe(true);
  });

  it('the worker-side params validation refuses the same', () => {
    const params = JSON.parse('{"ms": 5, "__proto__": {"x": 1}}') as unknown;
    const result = validateTaskParams(TaskName.DiagnosticSleep, params);
    expect(result.ok ? [] : result.errors.map((error) => error.field)).toEqual(['params.__proto__']);
    const surrogate = validateTaskParams(TaskName.DiagnosticFail, { message: '\uD800' });
    expect(surrogate.ok ? [] : surrogate.errors.map((error) => error.field)).toEqual(['params.message']);
  });
});

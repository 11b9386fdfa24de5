import { createHash } from 'node:crypto';
import { ValidEnqueueTask } from '@tasklane/contracts';

/** `value` as JSON with every object's keys sorted: equal values, equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * SHA-256 (hex) of what an enqueue request asks for, defaults applied: the task, its params (key
 * order aside), priority, retries, timeout and schedule as written (`delay_ms` compares by its
 * value, not by the instant it gives). Two requests under one idempotency key must agree on it.
 */
export function requestFingerprint(request: ValidEnqueueTask): string {
  return createHash('sha256')
    .update(
      canonicalJson({
        task_name: request.task_name,
        task_type: request.task_type,
        params: request.params,
        priority: request.priority,
        max_retries: request.max_retries,
        timeout_ms: request.timeout_ms,
        schedule: request.schedule,
      }),
    )
    .digest('hex');
}

import * as crypto from 'node:crypto';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Task ids are lower-case RFC 9562 UUIDs (the gateway issues version 7). */
export function isTaskId(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * A new task id: a UUID version 7 (RFC 9562) — 48 bits of Unix milliseconds, then randomness.
 * Time-ordered ids keep inserts into the unique index at its right edge.
 */
export function newTaskId(now: number = Date.now()): string {
  const random = crypto.randomUUID();
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}

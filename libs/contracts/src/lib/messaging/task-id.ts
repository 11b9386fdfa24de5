const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Task ids are lower-case RFC 9562 UUIDs (the gateway issues version 7). */
export function isTaskId(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

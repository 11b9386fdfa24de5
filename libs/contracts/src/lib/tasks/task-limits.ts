/** Bounds shared by the REST API, the messages and the table's CHECK constraints. */
export const TaskPriority = {
  Min: 1,
  Max: 10,
  Default: 5,
} as const;

export const TaskRetries = {
  Min: 0,
  Max: 10,
  Default: 3,
} as const;

export const TaskListLimit = {
  Min: 1,
  Max: 500,
  Default: 50,
} as const;

/** Longest text searched for in params and results (`q` of a list). */
export const TaskSearchLength = {
  Max: 200,
} as const;

/** Page size of a task's history (GET /api/tasks/{id}/events). */
export const TaskEventListLimit = {
  Min: 1,
  Max: 1000,
  Default: 200,
} as const;

/** Bounds of a task's timeout (`timeout_ms`): 100 ms to 24 hours. */
export const TaskTimeout = {
  MinMs: 100,
  MaxMs: 86_400_000,
} as const;

/** The progress a handler reports (`context.progress(percent, message)`): a percentage and a short text. */
export const TaskProgress = {
  Min: 0,
  Max: 100,
  MessageMaxLength: 255,
} as const;

/** How long `GET /api/tasks/{id}?wait=` may hold a request: up to 60 seconds. */
export const TaskWait = {
  MinSeconds: 0,
  MaxSeconds: 60,
} as const;

/** How far ahead a task may be scheduled (`run_at`, `delay_ms`): up to 366 days. */
export const TaskDelay = {
  MinMs: 0,
  MaxMs: 366 * 86_400_000,
} as const;

/**
 * An idempotency key (`Idempotency-Key` header or `idempotency_key` field): 1 to 255 visible
 * ASCII characters, compared exactly (case-sensitive).
 */
export const IdempotencyKeyLength = {
  Min: 1,
  Max: 255,
} as const;

/** The characters an idempotency key may hold: visible ASCII, no spaces. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]+$/;

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

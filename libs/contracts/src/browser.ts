/**
 * The contracts a browser needs, without the validation (class-validator, reflect-metadata) that
 * `@tasklane/contracts` carries: the enums, the bounds and the shapes of the REST API. Imported by
 * the dashboard as `@tasklane/contracts/browser`.
 */
export * from './lib/tasks/task-type.enum';
export * from './lib/tasks/task-name.enum';
export * from './lib/tasks/task-status.enum';
export * from './lib/tasks/task-history.enum';
export * from './lib/tasks/task-limits';
export type * from './lib/api/dto/task.resource';
export * from './lib/api/dto/dashboard.resource';

// DTO decorators (class-transformer's @Type) read design-time metadata.
import 'reflect-metadata';

export * from './lib/tasks/task-type.enum';
export * from './lib/tasks/task-name.enum';
export * from './lib/tasks/task-status.enum';
export * from './lib/tasks/task-limits';
export * from './lib/tasks/task-catalogue';
export * from './lib/params/send-email.params';
export * from './lib/params/tasks-summary-report.params';
export * from './lib/params/time-window.params';
export * from './lib/params/task-stats.params';
export * from './lib/params/purge-tasks.params';
export * from './lib/params/diagnostic.params';
export * from './lib/api/dto/enqueue-task.dto';
export * from './lib/api/dto/list-tasks.query';
export * from './lib/api/dto/task.resource';
export * from './lib/api/validate-enqueue-task';
export * from './lib/messaging/topology';
export * from './lib/messaging/task-command';
export * from './lib/messaging/task-event';
export * from './lib/messaging/task-id';
export * from './lib/messaging/message-codec';
export * from './lib/validation/validate-dto';
export * from './lib/validation/validate-task-params';
export * from './lib/validation/is-iso-timestamp';
export * from './lib/validation/json-safety';
export * from './lib/messaging/task-control';

export * from './lib/worker.env';
export * from './lib/worker.constants';
export * from './lib/handlers/task-handler';
export * from './lib/handlers/task-handler.registry';
export * from './lib/consumer/task.consumer';
export * from './lib/consumer/task-outcome';
export * from './lib/worker-runtime.module';
export * from './lib/handlers/time-window';

export * from './lib/amqp-connection';
export * from './lib/amqp-publisher';
export * from './lib/amqp.module';
export * from './lib/broker-errors';
export * from './lib/queue-consumer';
export * from './lib/topology';
export * from './lib/retry-backoff';
export * from './lib/task-message.publisher';

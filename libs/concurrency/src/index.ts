export * from './lib/batcher';
export * from './lib/periodic-job';
export * from './lib/retry-with-backoff';
export * from './lib/tasklane-error';

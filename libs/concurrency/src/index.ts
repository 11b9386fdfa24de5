export * from './lib/periodic-job';
export * from './lib/retry-with-backoff';
export * from './lib/tasklane-error';
export * from './lib/write-coalescer';

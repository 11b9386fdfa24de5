export * from './lib/periodic-job';
export * from './lib/retry-with-backoff';
export * from './lib/write-coalescer';

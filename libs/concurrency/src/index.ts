export * from './lib/write-coalescer';

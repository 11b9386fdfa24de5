export * from './lib/worker-runtime.module';

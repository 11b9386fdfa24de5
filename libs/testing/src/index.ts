export * from './lib/services';
export * from './lib/test-database';
export * from './lib/test-vhost';
export * from './lib/wait-for';
export * from './lib/app-process';
export * from './lib/tcp-proxy';
export * from './lib/prometheus-text';
export * from './lib/free-port';

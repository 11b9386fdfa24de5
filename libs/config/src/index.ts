export * from './lib/load-config';
export * from './lib/secret';
export * from './lib/comma-list';
export * from './lib/base.env';
export * from './lib/config.module';
export * from './lib/app-logger';
export * from './lib/run-main';
export * from './lib/exit-on-signals';

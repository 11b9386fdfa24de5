export * from './lib/background-task/background-task.entity';
export * from './lib/background-task/background-task.mapper';
export * from './lib/background-task/background-task.repository';
export * from './lib/database/data-source.options';
export * from './lib/database/database-errors';
export * from './lib/database/database.module';
export * from './lib/migrations';
export * from './lib/database/migrator';

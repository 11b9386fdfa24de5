// Test helpers over `background_tasks` (`@tasklane/persistence/testing`): for tests and fixtures only.
export * from './lib/testing/task-rows.fixture';

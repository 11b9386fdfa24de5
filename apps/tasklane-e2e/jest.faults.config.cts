/**
 * The fault-injection suite (`npm run test:faults`): each scenario drives the built apps as
 * processes against the real RabbitMQ and MariaDB while it injects a fault, and records a row
 * of the fault table, printed at the end and written to tmp/faults/results.md.
 */
module.exports = {
  displayName: 'tasklane-faults',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/faults/**/*.fault-spec.ts'],
  testTimeout: 300_000,
  maxWorkers: 1,
  globalSetup: '<rootDir>/src/support/faults-global-setup.ts',
  globalTeardown: '<rootDir>/src/support/faults-global-teardown.ts',
};

/** Base URLs of the real services the tests use (no credentials beyond the local defaults). */
export const TEST_AMQP_BASE_URL = process.env['TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
export const TEST_MYSQL_BASE_URL = process.env['TEST_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306';

/** A short unique suffix for names of one test run. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

import { isDatabaseUnavailable, isUnknownDatabase } from './database-errors';
import { describeDatabaseUrl } from './data-source.options';

const withCode = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'PROTOCOL_CONNECTION_LOST',
    'ER_CON_COUNT_ERROR',
    'ER_SERVER_SHUTDOWN',
    'ER_LOCK_WAIT_TIMEOUT',
    'ER_LOCK_DEADLOCK',
  ])('is true for %s (worth retrying)', (code) => {
    expect(isDatabaseUnavailable(withCode(code))).toBe(true);
  });

  it('reads the code of a wrapped driver error (TypeORM QueryFailedError)', () => {
    expect(isDatabaseUnavailable({ driverError: { code: 'ECONNREFUSED' } })).toBe(true);
  });

  it('is true for a closed pool', () => {
    expect(isDatabaseUnavailable(new Error('Pool is closed.'))).toBe(true);
  });

  it.each(['ER_PARSE_ERROR', 'ER_DUP_ENTRY', 'ER_CHECK_CONSTRAINT_VIOLATED'])(
    'is false for a query error %s',
    (code) => {
      expect(isDatabaseUnavailable(withCode(code))).toBe(false);
    },
  );

  it('is false for non-errors', () => {
    expect(isDatabaseUnavailable(undefined)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
  });
});

describe('isUnknownDatabase', () => {
  it('recognises a missing database', () => {
    expect(isUnknownDatabase(withCode('ER_BAD_DB_ERROR'))).toBe(true);
    expect(isUnknownDatabase(withCode('ECONNREFUSED'))).toBe(false);
  });
});

describe('describeDatabaseUrl', () => {
  it('names host, port and database without credentials', () => {
    expect(describeDatabaseUrl('mysql://app:s3cret@db.internal:3307/tasklane')).toBe('db.internal:3307/tasklane');
    expect(describeDatabaseUrl('mysql://root@127.0.0.1/tasklane')).toBe('127.0.0.1:3306/tasklane');
  });
});

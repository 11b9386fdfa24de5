import { isTransient } from '@tasklane/concurrency';
import {
  DatabaseBoundary,
  DatabaseUnavailableError,
  isDatabaseUnavailable,
  isDeadlock,
  isUnknownDatabase,
} from './database-errors';
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

describe('DatabaseBoundary', () => {
  @DatabaseBoundary()
  class Repository {
    calls = 0;

    async failWith(code: string): Promise<never> {
      this.calls += 1;
      throw withCode(code, `failed with ${code}`);
    }

    async nested(code: string): Promise<never> {
      return this.failWith(code);
    }

    async value(): Promise<number> {
      return this.calls;
    }
  }

  it('raises a transient driver failure as DatabaseUnavailableError, keeping cause and code', async () => {
    const repository = new Repository();
    const error = (await repository.failWith('ECONNREFUSED').catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', transient: true, name: 'DatabaseUnavailableError' });
    expect(error.message).toMatch(/database is unavailable: failed with ECONNREFUSED/);
    expect((error.cause as Error).message).toBe('failed with ECONNREFUSED');
    expect(isTransient(error)).toBe(true);
    expect(isDeadlock(await repository.failWith('ER_LOCK_DEADLOCK').catch((caught: unknown) => caught))).toBe(true);
  });

  it('lets every other error through unchanged, and wraps once when methods call each other', async () => {
    const repository = new Repository();
    const parse = await repository.failWith('ER_PARSE_ERROR').catch((caught: unknown) => caught);
    expect(parse).not.toBeInstanceOf(DatabaseUnavailableError);
    expect(parse).toMatchObject({ code: 'ER_PARSE_ERROR' });
    const nested = (await repository.nested('ECONNRESET').catch((caught: unknown) => caught)) as Error;
    expect(nested).toBeInstanceOf(DatabaseUnavailableError);
    expect(nested.cause).not.toBeInstanceOf(DatabaseUnavailableError);
    await expect(repository.value()).resolves.toBe(2);
  });
});

import 'reflect-metadata';
import { Expose } from 'class-transformer';
import { IsIn, IsInt, IsString, Max, Min, MinLength } from 'class-validator';
import { BaseEnv } from './base.env';
import { ConfigValidationError, loadConfig } from './load-config';
import { Secret } from './secret';

class TestEnv {
  @Expose()
  @IsInt()
  @Min(1)
  @Max(10)
  readonly POOL_SIZE: number = 3;

  @Expose()
  @IsString()
  @MinLength(2)
  readonly SERVICE_NAME: string = 'tasklane';

  @Expose()
  @IsIn(['json', 'pretty'])
  readonly FORMAT: string = 'json';
}

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('applies the defaults when nothing is set', () => {
    const config = loadConfig(TestEnv, {});
    expect(config).toBeInstanceOf(TestEnv);
    expect({ ...config }).toEqual({ POOL_SIZE: 3, SERVICE_NAME: 'tasklane', FORMAT: 'json' });
  });

  it('converts numeric strings to numbers', () => {
    expect(loadConfig(TestEnv, { POOL_SIZE: '7' }).POOL_SIZE).toBe(7);
  });

  it('takes string values as they are', () => {
    const config = loadConfig(TestEnv, { SERVICE_NAME: 'worker', FORMAT: 'pretty' });
    expect(config.SERVICE_NAME).toBe('worker');
    expect(config.FORMAT).toBe('pretty');
  });

  it('treats empty strings as unset', () => {
    expect({ ...loadConfig(TestEnv, { POOL_SIZE: '', SERVICE_NAME: '', FORMAT: '' }) }).toEqual({
      POOL_SIZE: 3,
      SERVICE_NAME: 'tasklane',
      FORMAT: 'json',
    });
  });

  it('ignores unrelated variables', () => {
    const config = loadConfig(TestEnv, { PATH: '/usr/bin', HOME: '/root', POOL_SIZE: '2' });
    expect(Object.keys(config).sort()).toEqual(['FORMAT', 'POOL_SIZE', 'SERVICE_NAME']);
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig(TestEnv, {}))).toBe(true);
  });

  it.each([
    ['POOL_SIZE', 'abc'],
    ['POOL_SIZE', '2.5'],
    ['POOL_SIZE', '0'],
    ['POOL_SIZE', '11'],
    ['SERVICE_NAME', 'x'],
    ['FORMAT', 'xml'],
  ])('rejects %s=%p, naming the variable and the value', (name, value) => {
    const problems = problemsOf(() => loadConfig(TestEnv, { [name]: value }));
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      expect(problem).toContain(name);
      expect(problem).toContain(`(got ${JSON.stringify(value)})`);
    }
  });

  it('lists every bad variable in one error', () => {
    let thrown: unknown;
    try {
      loadConfig(TestEnv, { POOL_SIZE: 'many', FORMAT: 'xml', SERVICE_NAME: 'ok' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigValidationError);
    const error = thrown as ConfigValidationError;
    expect(error.problems.some((problem) => problem.startsWith('POOL_SIZE') && problem.includes('"many"'))).toBe(true);
    expect(error.problems.some((problem) => problem.startsWith('FORMAT') && problem.includes('"xml"'))).toBe(true);
    expect(error.problems.some((problem) => problem.includes('SERVICE_NAME'))).toBe(false);
    expect(error.message).toMatch(/^Invalid configuration:\n {2}- /);
    expect(error.message).toContain('"many"');
    expect(error.message).toContain('"xml"');
  });
});

describe('BaseEnv', () => {
  it('accepts its own defaults', () => {
    const config = loadConfig(BaseEnv, {});
    expect(config.AMQP_URL).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(config.DATABASE_URL).toBe('mysql://root@127.0.0.1:3306/tasklane');
    expect(config.DATABASE_POOL_SIZE).toBe(5);
    expect(config.LOG_LEVEL).toBe('log');
    expect(config.LOG_FORMAT).toBe('json');
    expect(config.SHUTDOWN_GRACE_MS).toBe(25_000);
  });

  it.each([
    { AMQP_URL: 'amqps://u:p@rabbit:5671/prod' },
    { DATABASE_URL: 'mariadb://user:pw@db:3306/tasklane_test?charset=utf8mb4' },
    { LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' },
    { SHUTDOWN_GRACE_MS: '0' },
  ])('accepts %p', (env) => {
    expect(() => loadConfig(BaseEnv, env)).not.toThrow();
  });

  it.each([
    ['AMQP_URL', 'http://rabbit:5672'],
    ['AMQP_URL', 'amqp://'],
    ['AMQP_URL', 'amqp://rabbit host'],
    ['DATABASE_URL', 'postgres://root@db:5432/tasklane'],
    ['DATABASE_URL', 'mysql://root@db:3306'],
    ['DATABASE_URL', 'mysql://root@db:3306/task-lane'],
    ['DATABASE_POOL_SIZE', '0'],
    ['LOG_LEVEL', 'trace'],
    ['LOG_FORMAT', 'xml'],
  ])('rejects %s=%p', (name, value) => {
    const problems = problemsOf(() => loadConfig(BaseEnv, { [name]: value }));
    expect(problems).toEqual([expect.stringContaining(name)]);
    expect(problems[0]).toContain(JSON.stringify(value));
  });
});

class SecretEnv {
  @Expose()
  @IsString()
  @MinLength(16)
  @Secret()
  readonly TOKEN: string = 'a-default-token-of-16';

  @Expose()
  @IsString()
  @MinLength(16)
  readonly PUBLIC_NAME: string = 'a-default-name-of-16';
}

class ExtendedSecretEnv extends SecretEnv {}

describe('loadConfig with @Secret()', () => {
  it('names a bad secret variable without showing its value', () => {
    const problems = problemsOf(() => loadConfig(SecretEnv, { TOKEN: 'hunter2', PUBLIC_NAME: 'short' }));
    const token = problems.find((problem) => problem.startsWith('TOKEN'));
    expect(token).toBe('TOKEN must be longer than or equal to 16 characters (value not shown: it is secret)');
    expect(problems.join('\n')).not.toContain('hunter2');
    expect(problems.some((problem) => problem.includes('"short"'))).toBe(true);
  });

  it('keeps the mark in subclasses', () => {
    const problems = problemsOf(() => loadConfig(ExtendedSecretEnv, { TOKEN: 'hunter2' }));
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});

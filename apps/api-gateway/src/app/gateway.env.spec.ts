import 'reflect-metadata';
import { ConfigValidationError, loadConfig } from '@tasklane/config';
import { GatewayEnv } from './gateway.env';

const KEY_A = 'rw-key-0123456789abcdef';
const KEY_B = 'ro-key-0123456789abcdef';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(GatewayEnv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems;
  }
  throw new Error('expected loadConfig to throw');
}

describe('GatewayEnv API keys', () => {
  it('has no keys by default (the API is open)', () => {
    const env = loadConfig(GatewayEnv, {});
    expect(env.API_KEYS_READ_WRITE).toEqual([]);
    expect(env.API_KEYS_READ_ONLY).toEqual([]);
  });

  it('reads comma-separated lists, trimming whitespace and a trailing newline, ignoring empty entries', () => {
    const env = loadConfig(GatewayEnv, {
      API_KEYS_READ_WRITE: ` ${KEY_A} , second-key-0123456789,\n`,
      API_KEYS_READ_ONLY: `${KEY_B},,`,
    });
    expect(env.API_KEYS_READ_WRITE).toEqual([KEY_A, 'second-key-0123456789']);
    expect(env.API_KEYS_READ_ONLY).toEqual([KEY_B]);
  });

  it('accepts hex and base64 keys (openssl rand -hex / -base64)', () => {
    const hex = 'a'.repeat(64);
    const base64 = 'q83vEjRWeJ+rze8SNFZ4mq/N7xI0VniarN7xI0Vnip0=';
    expect(loadConfig(GatewayEnv, { API_KEYS_READ_WRITE: `${hex},${base64}` }).API_KEYS_READ_WRITE).toEqual([
      hex,
      base64,
    ]);
  });

  it.each([
    ['a key shorter than 16 characters', 'API_KEYS_READ_WRITE', 'short-key-15chr'],
    ['a key with a space', 'API_KEYS_READ_WRITE', 'with a space 0123456789'],
    ['a key with a non-ASCII character', 'API_KEYS_READ_ONLY', 'clé-0123456789abcdef'],
    ['a key with a quote', 'API_KEYS_READ_ONLY', 'quote"0123456789abcdef'],
    ['a key with "=" inside', 'API_KEYS_READ_ONLY', 'abc=def0123456789abcdef'],
    ['a key longer than 512 characters', 'API_KEYS_READ_WRITE', 'k'.repeat(513)],
  ])('refuses %s, naming the variable but never showing the keys', (_case, name, key) => {
    const problems = problemsOf({ [name]: `${KEY_A.replace('rw', 'xx')},${key}` });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: each key must be 16–512 characters`));
    expect(problems[0]).toContain('(value not shown: it is secret)');
    expect(problems[0]).not.toContain(key);
    expect(problems[0]).not.toContain('xx-key');
  });

  it('refuses a key that is both read-write and read-only', () => {
    const problems = problemsOf({ API_KEYS_READ_WRITE: KEY_A, API_KEYS_READ_ONLY: `${KEY_B},${KEY_A}` });
    expect(problems).toEqual([
      'API_KEYS_READ_ONLY must not repeat a key of API_KEYS_READ_WRITE (value not shown: it is secret)',
    ]);
  });
});

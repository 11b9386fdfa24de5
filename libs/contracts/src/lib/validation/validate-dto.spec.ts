import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsString, ValidateNested } from 'class-validator';
import { SendEmailParams } from '../params/send-email.params';
import { SleepParams } from '../params/diagnostic.params';
import { isPlainObject, validateDto } from './validate-dto';

class Inner {
  @IsInt()
  count!: number;
}

class Outer {
  @IsString()
  name!: string;

  @ValidateNested()
  @Type(() => Inner)
  inner!: Inner;
}

describe('isPlainObject', () => {
  it.each([
    [{}, true],
    [Object.create(null), true],
    [{ a: 1 }, true],
    [null, false],
    [[], false],
    ['text', false],
    [42, false],
    [new Date(), false],
    [new Inner(), false],
  ])('%p → %p', (value, expected) => {
    expect(isPlainObject(value)).toBe(expected);
  });
});

describe('validateDto', () => {
  it.each([null, undefined, [], [{ ms: 1 }], 'text', 5, true])('rejects the non-object %p as (body)', (plain) => {
    expect(validateDto(SleepParams, plain)).toEqual({
      ok: false,
      errors: [{ field: '(body)', message: 'body must be a JSON object' }],
    });
  });

  it('names the prefix when a nested value is not an object', () => {
    expect(validateDto(SleepParams, 'text', 'params')).toEqual({
      ok: false,
      errors: [{ field: 'params', message: 'params must be a JSON object' }],
    });
  });

  it('returns an instance of the DTO when the object is valid', () => {
    const result = validateDto(SleepParams, { ms: 5 });
    expect(result.ok).toBe(true);
    expect(result.ok && result.value).toBeInstanceOf(SleepParams);
    expect(result.ok && result.value.ms).toBe(5);
  });

  it('reports unknown properties', () => {
    expect(validateDto(SleepParams, { ms: 5, foo: 1 })).toEqual({
      ok: false,
      errors: [{ field: 'foo', message: 'property foo should not exist' }],
    });
  });

  it('reports unknown properties under the prefix', () => {
    expect(validateDto(SleepParams, { ms: 5, foo: 1 }, 'params')).toEqual({
      ok: false,
      errors: [{ field: 'params.foo', message: 'property params.foo should not exist' }],
    });
  });

  it.each(['5', 5.5, null, true])('does not coerce %p into an integer', (ms) => {
    const result = validateDto(SleepParams, { ms });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((error) => error.field)).toContain('ms');
  });

  it('prefixes the field path and the message of each error', () => {
    const result = validateDto(SendEmailParams, { to: 'not-an-email', subject: 'Hi', body: 'x' }, 'params');
    expect(result).toEqual({
      ok: false,
      errors: [{ field: 'params.to', message: 'params.to must be an email' }],
    });
  });

  it('reports every bad field, not only the first', () => {
    const result = validateDto(SendEmailParams, { to: 'nope', subject: '' });
    const fields = !result.ok ? result.errors.map((error) => error.field) : [];
    expect(new Set(fields)).toEqual(new Set(['to', 'subject', 'body']));
  });

  it('reports errors of nested objects with their dotted path', () => {
    const result = validateDto(Outer, { name: 'n', inner: { count: 'x' } }, 'params');
    expect(result).toEqual({
      ok: false,
      errors: [{ field: 'params.inner.count', message: 'params.inner.count must be an integer number' }],
    });
  });
});

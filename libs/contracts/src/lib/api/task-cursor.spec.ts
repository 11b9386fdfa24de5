import 'reflect-metadata';
import { ListTasksQuery } from './dto/list-tasks.query';
import { decodeTaskCursor, encodeTaskCursor } from './task-cursor';
import { validateDto } from '../validation/validate-dto';

const MAX_ID = '18446744073709551615';

describe('task list cursor', () => {
  it.each(['1', '42', '1000000', '9007199254740993', MAX_ID])('round-trips the row id %s', (id) => {
    const cursor = encodeTaskCursor(id);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeTaskCursor(cursor)).toBe(id);
  });

  it('encodes a bigint id like its decimal string, as unpadded base64url', () => {
    expect(encodeTaskCursor(123n)).toBe(encodeTaskCursor('123'));
    expect(encodeTaskCursor('123')).toBe('MTIz');
  });

  it.each(['0', '-1', '007', '1.5', 'abc', '', '18446744073709551616'])('refuses to encode %j', (id) => {
    expect(() => encodeTaskCursor(id)).toThrow(RangeError);
  });

  it.each([
    ['empty', ''],
    ['padded', 'MTI='],
    ['standard base64 (+ and /)', 'MTIz+/'],
    ['not canonical (stray low bits)', 'MTJ'],
    ['a lone character', 'M'],
    ['whitespace', ' MTIz'],
    ['a decimal that is not base64url-encoded', '123'],
    ['zero', Buffer.from('0').toString('base64url')],
    ['a leading zero', Buffer.from('012').toString('base64url')],
    ['a negative id', Buffer.from('-5').toString('base64url')],
    ['text', Buffer.from('abc').toString('base64url')],
    ['an id beyond BIGINT UNSIGNED', Buffer.from('18446744073709551616').toString('base64url')],
    ['JSON', Buffer.from('{"id":5}').toString('base64url')],
    ['non-ASCII bytes', Buffer.from([0xff, 0xfe, 0x31]).toString('base64url')],
    ['too long', 'A'.repeat(28)],
  ])('decodes %s to null', (_case, cursor) => {
    expect(decodeTaskCursor(cursor)).toBeNull();
  });

  it.each([undefined, null, 5, ['MTIz']])('decodes a non-string %j to null', (cursor) => {
    expect(decodeTaskCursor(cursor)).toBeNull();
  });
});

describe('ListTasksQuery cursor', () => {
  const fields = (plain: Record<string, unknown>): string[] => {
    const result = validateDto(ListTasksQuery, plain);
    return result.ok ? [] : result.errors.map((error) => error.field);
  };

  it('accepts a cursor alone, with limit and filters, or with offset 0', () => {
    const cursor = encodeTaskCursor('77');
    expect(fields({ cursor })).toEqual([]);
    expect(fields({ cursor, limit: 10, status: 'failed', task_type: 'email' })).toEqual([]);
    expect(fields({ cursor, offset: 0 })).toEqual([]);
  });

  it.each(['MTJ', '!!', 'MA', 'A'.repeat(40)])('names cursor for the malformed cursor %j', (cursor) => {
    expect(fields({ cursor })).toEqual(['cursor']);
  });

  it('names cursor, once, for a cursor that is not a string', () => {
    expect(new Set(fields({ cursor: ['MTIz', 'MTIz'] }))).toEqual(new Set(['cursor']));
  });

  it('names cursor when it comes with a non-zero offset', () => {
    const result = validateDto(ListTasksQuery, { cursor: encodeTaskCursor('77'), offset: 50 });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors).toEqual([
      { field: 'cursor', message: expect.stringMatching(/non-zero offset/) },
    ]);
  });
});

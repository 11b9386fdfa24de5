import 'reflect-metadata';
import { ListTasksQuery } from './dto/list-tasks.query';
import { decodeTaskCursor, encodeTaskCursor } from './task-cursor';
import { validateDto } from '../validation/validate-dto';

const MAX_ID = '18446744073709551615';
const MAX_CREATED_AT_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

const at = (id: string, createdAtMs = 1_780_000_000_123) => ({ createdAtMs, id });

describe('task list cursor', () => {
  it.each([at('1'), at('42', 0), at('1000000', 1), at('9007199254740993'), at(MAX_ID, MAX_CREATED_AT_MS)])(
    'round-trips the position %j',
    (position) => {
      const cursor = encodeTaskCursor(position);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(cursor.length).toBeLessThanOrEqual(48);
      expect(decodeTaskCursor(cursor)).toEqual(position);
    },
  );

  it('is the unpadded base64url of <created_at ms>.<id>', () => {
    expect(encodeTaskCursor(at('123', 1_700_000_000_000))).toBe(Buffer.from('1700000000000.123').toString('base64url'));
  });

  it.each([
    ['id 0', at('0')],
    ['a negative id', at('-1')],
    ['a leading zero', at('007')],
    ['a fraction', at('1.5')],
    ['text', at('abc')],
    ['an empty id', at('')],
    ['an id beyond BIGINT UNSIGNED', at('18446744073709551616')],
    ['a negative time', at('5', -1)],
    ['a fractional time', at('5', 1.5)],
    ['a time after 9999', at('5', MAX_CREATED_AT_MS + 1)],
    ['NaN', at('5', Number.NaN)],
  ])('refuses to encode %s', (_case, position) => {
    expect(() => encodeTaskCursor(position)).toThrow(RangeError);
  });

  const encoded = (text: string) => Buffer.from(text).toString('base64url');

  it.each([
    ['empty', ''],
    ['padded', 'MTI='],
    ['standard base64 (+ and /)', 'MTIz+/'],
    ['not canonical (stray low bits)', 'MTJ'],
    ['a lone character', 'M'],
    ['whitespace', ' MTIz'],
    ['a decimal that is not base64url-encoded', '123'],
    ['an id alone (the cursor of an earlier version)', encoded('123')],
    ['id zero', encoded('1700000000000.0')],
    ['a leading zero in the id', encoded('1700000000000.012')],
    ['a leading zero in the time', encoded('01700000000000.12')],
    ['a negative id', encoded('1700000000000.-5')],
    ['a negative time', encoded('-1.5')],
    ['a time after 9999', encoded(`${MAX_CREATED_AT_MS + 1}.5`)],
    ['three parts', encoded('1.2.3')],
    ['text', encoded('abc.def')],
    ['an id beyond BIGINT UNSIGNED', encoded('1.18446744073709551616')],
    ['JSON', encoded('{"id":5}')],
    ['non-ASCII bytes', Buffer.from([0xff, 0xfe, 0x31]).toString('base64url')],
    ['too long', 'A'.repeat(49)],
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
    const cursor = encodeTaskCursor(at('77'));
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
    const result = validateDto(ListTasksQuery, { cursor: encodeTaskCursor(at('77')), offset: 50 });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors).toEqual([
      { field: 'cursor', message: expect.stringMatching(/non-zero offset/) },
    ]);
  });
});

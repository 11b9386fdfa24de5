import { BadRequestException } from '@nestjs/common';
import { ListTasksQuery, decodeTaskCursor, encodeTaskCursor, validateDto } from '@tasklane/contracts';
import { invalidRequest } from '../http/api-errors';
import { decodeListCursor, encodeListCursor } from './task-cursor';

describe('the list cursor of GET /api/tasks', () => {
  it('encodes a keyset position as the opaque cursor of the contracts, and decodes it back', () => {
    const position = { createdAt: new Date('2026-01-02T03:04:05.678Z'), id: '123456' };
    const cursor = encodeListCursor(position);
    expect(cursor).toBe(encodeTaskCursor({ createdAtMs: Date.parse('2026-01-02T03:04:05.678Z'), id: '123456' }));
    expect(decodeTaskCursor(cursor)).toEqual({ createdAtMs: position.createdAt.getTime(), id: '123456' });
    expect(decodeListCursor(cursor)).toEqual(position);
  });

  it('keeps the millisecond and the largest row id', () => {
    const position = { createdAt: new Date(253_402_300_799_999), id: '18446744073709551615' };
    expect(decodeListCursor(encodeListCursor(position))).toEqual(position);
  });

  it('refuses to encode a position no row can have', () => {
    expect(() => encodeListCursor({ createdAt: new Date(-1), id: '1' })).toThrow(RangeError);
    expect(() => encodeListCursor({ createdAt: new Date(0), id: '0' })).toThrow(RangeError);
  });

  it.each(['MTIz', 'MTJ', 'MA', '!!', '', 'A'.repeat(90)])(
    'answers the cursor %j, never given out, with the 400 of the query validation',
    (cursor) => {
      const validated = validateDto(ListTasksQuery, { cursor });
      expect(validated.ok).toBe(false);
      const expected = invalidRequest(validated.ok ? [] : validated.errors).getResponse();

      let thrown: unknown;
      try {
        decodeListCursor(cursor);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(BadRequestException);
      expect((thrown as BadRequestException).getResponse()).toEqual(expected);
      expect(expected).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Invalid request: cursor',
        errors: [{ field: 'cursor', message: 'cursor must be a next_cursor given by this API' }],
      });
    },
  );
});

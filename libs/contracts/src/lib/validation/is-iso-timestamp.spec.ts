import 'reflect-metadata';
import { IsOptional } from 'class-validator';
import { validateDto } from './validate-dto';
import { IsIsoTimestamp } from './is-iso-timestamp';

class Window {
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;
}

describe('IsIsoTimestamp', () => {
  it.each([
    '2026-01-31T12:00:00Z',
    '2026-01-31T12:00Z',
    '2026-01-31T13:00:00.250+01:00',
    '2026-01-31T12:00:00.123456Z',
  ])('accepts %s', (from) => {
    expect(validateDto(Window, { from }).ok).toBe(true);
  });

  it.each([
    ['a week date', '2025-W01-1'],
    ['an ordinal date', '2025-040'],
    ['a compact date', '20250101'],
    ['a time without a zone', '2025-01-01T10:00'],
    ['a date without a time', '2025-01-01'],
    ['month 13', '2025-13-01T00:00:00Z'],
    ['free text', 'yesterday'],
  ])('rejects %s', (_case, from) => {
    const result = validateDto(Window, { from });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors.map((error) => error.field)).toContain('from');
  });
});

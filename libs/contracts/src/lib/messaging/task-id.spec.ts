import { isTaskId, newTaskId } from './task-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function timeOf(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

describe('newTaskId', () => {
  it('produces a lower-case UUID version 7 with the RFC 9562 variant', () => {
    for (let i = 0; i < 50; i += 1) {
      const id = newTaskId();
      expect(id).toMatch(UUID);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
  });

  it.each([0, 1, Date.UTC(2025, 5, 15, 12, 30), 2 ** 48 - 1])('encodes the time %p in the first 48 bits', (now) => {
    expect(timeOf(newTaskId(now))).toBe(now);
  });

  it('defaults to the current time', () => {
    const before = Date.now();
    const id = newTaskId();
    expect(timeOf(id)).toBeGreaterThanOrEqual(before);
    expect(timeOf(id)).toBeLessThanOrEqual(Date.now());
  });

  it('makes ids that sort by time', () => {
    const start = Date.UTC(2025, 0, 1);
    const ids = [0, 1, 255, 256, 4096, 86_400_000].map((offset) => newTaskId(start + offset));
    expect([...ids].sort()).toEqual(ids);
  });

  it('makes different ids within the same millisecond', () => {
    const now = Date.now();
    expect(new Set(Array.from({ length: 100 }, () => newTaskId(now))).size).toBe(100);
  });
});

describe('isTaskId', () => {
  it.each([
    ['a new task id', newTaskId(), true],
    ['a version-4 UUID', '3f2504e0-4f89-41d3-9a0c-0305e82c3301', true],
    ['an upper-case UUID', '3F2504E0-4F89-41D3-9A0C-0305E82C3301', false],
    ['a UUID without dashes', '3f2504e04f8941d39a0c0305e82c3301', false],
    ['a UUID in braces', '{3f2504e0-4f89-41d3-9a0c-0305e82c3301}', false],
    ['a UUID with a trailing newline', '3f2504e0-4f89-41d3-9a0c-0305e82c3301\n', false],
    ['a non-hex UUID', '3f2504e0-4f89-41d3-9a0c-0305e82c330g', false],
    ['an empty string', '', false],
    ['a number', 42, false],
    ['null', null, false],
  ])('%s → %p', (_, value, expected) => {
    expect(isTaskId(value)).toBe(expected);
  });
});

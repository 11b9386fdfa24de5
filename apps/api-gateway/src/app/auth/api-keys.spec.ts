import { createHash, timingSafeEqual } from 'node:crypto';
import { API_KEY_PATTERN, ApiAccess, ApiKeyRing } from './api-keys';

const RW1 = 'rw-one-0123456789abcdef';
const RW2 = 'rw-two-0123456789abcdef';
const RO1 = 'ro-one-0123456789abcdef';

describe('API_KEY_PATTERN', () => {
  it.each([
    ['0123456789abcdef', true],
    ['A'.repeat(512), true],
    ['A'.repeat(513), false],
    ['0123456789abcde', false],
    ['q83vEjRWeJ+rze8SNFZ4mq/N7xI0VniarN7xI0Vnip0=', true],
    ['abc-def_ghi.jkl~mno==', true],
    ['abc=def-0123456789', false],
    ['with space-0123456789', false],
    ['comma,0123456789abcdef', false],
    ['tab\t0123456789abcdef', false],
    ['ümlaut-0123456789abcdef', false],
  ])('%p → %p', (key, valid) => {
    expect(API_KEY_PATTERN.test(key)).toBe(valid);
  });
});

describe('ApiKeyRing', () => {
  const ring = new ApiKeyRing([RW1, RW2], [RO1]);

  it('grants read-write or read-only access by key', () => {
    expect(ring.lookup(RW1)?.access).toBe(ApiAccess.ReadWrite);
    expect(ring.lookup(RW2)?.access).toBe(ApiAccess.ReadWrite);
    expect(ring.lookup(RO1)?.access).toBe(ApiAccess.ReadOnly);
  });

  it('names each key by its SHA-256 digest, never by the key', () => {
    const ids = [RW1, RW2, RO1].map((key) => ring.lookup(key)?.id);
    expect(ids).toEqual([RW1, RW2, RO1].map((key) => createHash('sha256').update(key).digest('hex')));
    expect(new Set(ids).size).toBe(3);
  });

  it.each([
    ['an unknown key', 'unknown-0123456789abcdef'],
    ['the empty string', ''],
    ['a prefix of a key', RW1.slice(0, -1)],
    ['a key with one more character', `${RW1}x`],
    ['a key in another case', RW1.toUpperCase()],
    ['a key with whitespace', ` ${RW1}`],
    ['a very long string', 'x'.repeat(100_000)],
  ])('grants nothing to %s', (_case, candidate) => {
    expect(ring.lookup(candidate)).toBeUndefined();
  });

  it('is disabled without keys (the API is open), enabled with any', () => {
    expect(new ApiKeyRing([], []).enabled).toBe(false);
    expect(new ApiKeyRing([], [RO1]).enabled).toBe(true);
    expect(new ApiKeyRing([RW1], []).enabled).toBe(true);
    expect(new ApiKeyRing([], []).lookup('')).toBeUndefined();
  });

  it('counts distinct keys', () => {
    const counted = new ApiKeyRing([RW1, RW1, RW2], [RO1]);
    expect([counted.readWriteCount, counted.readOnlyCount]).toEqual([2, 1]);
  });

  it('refuses a key that is both read-write and read-only', () => {
    expect(() => new ApiKeyRing([RW1], [RO1, RW1])).toThrow(/both as read-write and as read-only/);
  });

  it('does not keep the keys themselves', () => {
    const serialized = JSON.stringify(ring) + JSON.stringify(Object.values(ring));
    for (const key of [RW1, RW2, RO1]) {
      expect(serialized).not.toContain(key);
    }
  });

  describe('constant-time comparison', () => {
    let compare: jest.Mock<boolean, [Buffer, Buffer]>;
    let ring: ApiKeyRing;

    beforeEach(() => {
      compare = jest.fn((a: Buffer, b: Buffer) => timingSafeEqual(a, b));
      ring = new ApiKeyRing([RW1, RW2], [RO1], compare);
    });

    it('uses crypto.timingSafeEqual by default', () => {
      expect(new ApiKeyRing([RW1], [])['compare']).toBe(timingSafeEqual);
    });

    it.each([
      ['the first key', RW1],
      ['the last key', RO1],
      ['no key', 'nothing-0123456789abcdef'],
      ['a one-character candidate', 'x'],
    ])('compares %s with every configured key, never stopping early', (_case, candidate) => {
      ring.lookup(candidate);
      expect(compare).toHaveBeenCalledTimes(3);
    });

    it('compares SHA-256 digests of equal length, whatever the candidate length', () => {
      ring.lookup('x');
      ring.lookup('y'.repeat(10_000));
      expect(compare).toHaveBeenCalledTimes(6);
      for (const [presented, known] of compare.mock.calls) {
        expect(presented).toHaveLength(32);
        expect(known).toHaveLength(32);
      }
    });
  });
});

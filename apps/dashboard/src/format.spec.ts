import { formatDuration, formatTime, localInputToIso } from './format';

describe('dashboard formatting', () => {
  it('shows durations briefly', () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
    expect(formatDuration(at(0), at(350))).toBe('350 ms');
    expect(formatDuration(at(0), at(4_240))).toBe('4.2 s');
    expect(formatDuration(at(0), at(185_000))).toBe('3 min 5 s');
    expect(formatDuration(null, at(1))).toBe('—');
  });

  it('shows times with milliseconds, and a dash for none', () => {
    expect(formatTime(null)).toBe('—');
    expect(formatTime('2026-01-01T00:00:00.007Z')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.007$/);
  });

  it('turns a datetime-local value into ISO UTC, and empty into nothing', () => {
    expect(localInputToIso('')).toBeUndefined();
    expect(localInputToIso('garbage')).toBeUndefined();
    expect(localInputToIso('2026-03-04T05:06')).toBe(new Date('2026-03-04T05:06').toISOString());
  });
});

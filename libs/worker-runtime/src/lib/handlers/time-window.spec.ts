import { PermanentTaskError } from './task-handler';
import { DEFAULT_WINDOW_MS, resolveTimeWindow } from './time-window';

const now = new Date('2025-03-10T12:00:00.000Z');

describe('resolveTimeWindow', () => {
  it('defaults to the 24 hours before now', () => {
    expect(resolveTimeWindow({}, now)).toEqual({ from: new Date('2025-03-09T12:00:00.000Z'), to: now });
  });

  it('defaults from to 24 hours before the given to', () => {
    expect(resolveTimeWindow({ to: '2025-01-02T00:00:00Z' }, now)).toEqual({
      from: new Date('2025-01-01T00:00:00.000Z'),
      to: new Date('2025-01-02T00:00:00.000Z'),
    });
  });

  it('defaults to to now when only from is given', () => {
    expect(resolveTimeWindow({ from: '2025-03-01T00:00:00Z' }, now)).toEqual({
      from: new Date('2025-03-01T00:00:00.000Z'),
      to: now,
    });
  });

  it('uses the current time when no now is passed', () => {
    const before = Date.now();
    const window = resolveTimeWindow({});
    expect(window.to.getTime()).toBeGreaterThanOrEqual(before);
    expect(window.to.getTime() - window.from.getTime()).toBe(DEFAULT_WINDOW_MS);
  });

  it.each([
    ['equal to', { from: '2025-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' }],
    ['after', { from: '2025-01-02T00:00:00Z', to: '2025-01-01T00:00:00Z' }],
    ['after the default to (now)', { from: '2025-03-11T00:00:00Z' }],
  ])('fails permanently when from is %s to', (_, params) => {
    expect(() => resolveTimeWindow(params, now)).toThrow(PermanentTaskError);
    expect(() => resolveTimeWindow(params, now)).toThrow(/must be before params\.to/);
  });

  it.each([
    ['an ISO week date', { from: '2025-W01-1' }],
    ['an ISO ordinal date', { to: '2025-040' }],
    ['a basic-format date', { from: '20250101' }],
  ])('fails permanently on %s, which ISO-8601 validation lets through but Date cannot parse', (_, params) => {
    expect(() => resolveTimeWindow(params, now)).toThrow(PermanentTaskError);
    expect(() => resolveTimeWindow(params, now)).toThrow(/must be dates and times/);
  });
});

/** A timestamp as the page shows it: local date and time with milliseconds, or a dash. */
export function formatTime(iso: string | null): string {
  if (iso === null) {
    return '—';
  }
  const date = new Date(iso);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  );
}

/** How long between two timestamps, briefly (`350 ms`, `4.2 s`, `3 min 5 s`). */
export function formatDuration(fromIso: string | null, toIso: string | null): string {
  if (fromIso === null || toIso === null) {
    return '—';
  }
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  if (ms < 1_000) {
    return `${ms} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1_000).toFixed(1)} s`;
  }
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** A `datetime-local` input's value (local time) as ISO-8601 UTC, or undefined when empty. */
export function localInputToIso(value: string): string | undefined {
  if (value === '') {
    return undefined;
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

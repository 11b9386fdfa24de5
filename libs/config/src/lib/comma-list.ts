import { Transform } from 'class-transformer';

/**
 * Parses a comma-separated list as a Kubernetes Secret, a ConfigMap or an .env file holds it:
 * whitespace around items (a trailing newline) is dropped, empty entries are ignored.
 */
export function parseCommaList(raw: unknown): string[] {
  if (raw === undefined || raw === null) {
    return [];
  }
  const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

/** Reads a variable as a comma-separated list ({@link parseCommaList}) from the raw value (no implicit conversion). */
export const CommaList = (): PropertyDecorator =>
  Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => parseCommaList(obj[key]));

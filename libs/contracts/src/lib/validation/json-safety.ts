import { FieldError } from './validate-dto';

/**
 * Property names that reach an object's prototype machinery when a parsed value is copied or
 * transformed (`obj[key] = value`): refused anywhere in a request, at any depth.
 */
export const FORBIDDEN_PROPERTY_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Deepest nesting of objects and arrays accepted in a request body (the DTOs need 2 or 3). */
export const MAX_JSON_DEPTH = 32;

/** At most this many problems are reported for one value (a hostile body could have millions). */
export const MAX_REPORTED_PROBLEMS = 20;

/** Field names longer than this are shortened in error messages (they echo what the client sent). */
const MAX_SHOWN_NAME_LENGTH = 64;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether a string is well-formed UTF-16 (no unpaired surrogate such as `"\ud800"`), i.e. whether
 * it can be encoded as UTF-8 at all — `String.prototype.isWellFormed()`, for every Node version.
 */
export function isWellFormedString(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** `text` with every unpaired surrogate replaced by U+FFFD, safe to echo in an error message. */
export function toWellFormedString(text: string): string {
  return text.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}

/** A field name for error messages: well-formed and of bounded length. */
export function displayFieldName(name: string): string {
  const clean = toWellFormedString(name);
  return clean.length > MAX_SHOWN_NAME_LENGTH ? `${clean.slice(0, MAX_SHOWN_NAME_LENGTH)}…` : clean;
}

function childPath(path: string, key: string): string {
  const shown = displayFieldName(key);
  return path ? `${path}.${shown}` : shown;
}

interface Pending {
  value: unknown;
  path: string;
  depth: number;
}

/**
 * Checks a parsed JSON value (a request body, a query object) for what must never reach the
 * validation, the database or the broker: prototype-pollution keys (`__proto__`, `constructor`,
 * `prototype`) at any depth, strings and keys that are not well-formed Unicode (unpaired
 * surrogates cannot be stored as UTF-8), numbers that are not finite or lie outside ±2^53 − 1
 * (JSON's `1e400` parses to Infinity, `9007199254740993` silently loses precision), and nesting
 * deeper than {@link MAX_JSON_DEPTH}. Each problem names its dotted field path under `prefix`
 * (`(body)` for the value itself).
 *
 * Iterative, so that even a body of a million nested arrays cannot overflow the stack.
 */
export function inspectJsonValue(root: unknown, prefix = ''): FieldError[] {
  const problems: FieldError[] = [];
  const stack: Pending[] = [{ value: root, path: prefix, depth: 0 }];
  while (stack.length > 0 && problems.length < MAX_REPORTED_PROBLEMS) {
    const { value, path, depth } = stack.pop() as Pending;
    const field = path || '(body)';
    if (typeof value === 'string') {
      if (!isWellFormedString(value)) {
        problems.push({ field, message: `${field} must be well-formed Unicode (it has an unpaired surrogate)` });
      }
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) {
        problems.push({ field, message: `${field} must be a finite number` });
      } else if (Math.abs(value) > Number.MAX_SAFE_INTEGER) {
        problems.push({ field, message: `${field} must be between -(2^53 - 1) and 2^53 - 1` });
      }
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_JSON_DEPTH) {
        problems.push({ field, message: `${field} is nested too deeply (at most ${MAX_JSON_DEPTH} levels)` });
        continue;
      }
      if (Array.isArray(value)) {
        // Pushed in reverse so that problems come out in document order.
        for (let index = value.length - 1; index >= 0; index -= 1) {
          stack.push({ value: value[index], path: `${field}[${index}]`, depth: depth + 1 });
        }
        continue;
      }
      const children: Pending[] = [];
      for (const key of Object.keys(value)) {
        const keyPath = childPath(path, key);
        if (FORBIDDEN_PROPERTY_NAMES.has(key)) {
          problems.push({ field: keyPath, message: `property ${keyPath} is not allowed (reserved name)` });
        } else if (!isWellFormedString(key)) {
          problems.push({
            field: keyPath,
            message: `property name ${keyPath} must be well-formed Unicode (it has an unpaired surrogate)`,
          });
        } else {
          children.push({ value: (value as Record<string, unknown>)[key], path: keyPath, depth: depth + 1 });
        }
      }
      // Pushed in reverse so that problems come out in document order (no spread: it may be huge).
      for (let index = children.length - 1; index >= 0; index -= 1) {
        stack.push(children[index]);
      }
    }
  }
  return problems.slice(0, MAX_REPORTED_PROBLEMS);
}

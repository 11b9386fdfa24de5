import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';

/** One problem with one field of a request or message; `field` is a dotted path (`params.to`). */
export interface FieldError {
  field: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return false;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * Validates a plain JSON object against a class-validator DTO. Unknown properties are errors,
 * values are not coerced (a string "5" is not the integer 5) and every problem is reported with
 * its dotted field path under `prefix`.
 */
export function validateDto<T extends object>(dto: new () => T, plain: unknown, prefix = ''): Validated<T> {
  if (!isPlainObject(plain)) {
    return {
      ok: false,
      errors: [{ field: prefix || '(body)', message: `${prefix || 'body'} must be a JSON object` }],
    };
  }
  const instance = plainToInstance(dto, plain);
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  if (errors.length > 0) {
    return { ok: false, errors: flattenValidationErrors(errors, prefix) };
  }
  return { ok: true, value: instance };
}

export function flattenValidationErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  const result: FieldError[] = [];
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      result.push({ field, message: prefix ? message.replace(error.property, field) : message });
    }
    if (error.children?.length) {
      result.push(...flattenValidationErrors(error.children, field));
    }
  }
  return result;
}

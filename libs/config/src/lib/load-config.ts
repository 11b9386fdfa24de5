import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { isSecretProperty } from './secret';

/** The environment failed validation; `problems` names each variable and what is wrong with it. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

function describe(errors: ValidationError[], env: Record<string, string>, schema: new () => object): string[] {
  return errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map((message) => {
      const raw = env[error.property];
      if (raw === undefined) {
        return message;
      }
      return isSecretProperty(schema, error.property)
        ? `${message} (value not shown: it is secret)`
        : `${message} (got ${JSON.stringify(raw)})`;
    }),
  );
}

/**
 * Reads the environment once into a typed, validated config object. Every property of the
 * schema must carry `@Expose()`; property initialisers are the defaults; empty variables count
 * as unset. Throws {@link ConfigValidationError} listing every problem (with the value given,
 * except for properties marked {@link Secret}).
 */
export function loadConfig<T extends object>(schema: new () => T, env: NodeJS.ProcessEnv = process.env): T {
  const defined: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') {
      defined[key] = value;
    }
  }
  const config = plainToInstance(schema, defined, {
    excludeExtraneousValues: true,
    exposeDefaultValues: true,
    enableImplicitConversion: true,
  });
  const errors = validateSync(config, { forbidUnknownValues: true });
  if (errors.length > 0) {
    throw new ConfigValidationError(describe(errors, defined, schema));
  }
  return Object.freeze(config);
}

import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';

/** The environment failed validation; `problems` names each variable and what is wrong with it. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

function describe(errors: ValidationError[], env: Record<string, string>): string[] {
  return errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map((message) => {
      const raw = env[error.property];
      return raw === undefined ? message : `${message} (got ${JSON.stringify(raw)})`;
    }),
  );
}

/**
 * Reads the environment once into a typed, validated config object. Every property of the
 * schema must carry `@Expose()`; property initialisers are the defaults; empty variables count
 * as unset. Throws {@link ConfigValidationError} listing every problem.
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
    throw new ConfigValidationError(describe(errors, defined));
  }
  return Object.freeze(config);
}

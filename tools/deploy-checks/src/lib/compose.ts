import { parse } from 'yaml';
import { parseEnvFile, readWorkspaceFile } from './workspace';

export interface ComposeHealthcheck {
  test?: string | string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  disable?: boolean;
}

export type ComposeDependsOn = string[] | Record<string, { condition?: string; required?: boolean }>;

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> | string[] };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  depends_on?: ComposeDependsOn;
  healthcheck?: ComposeHealthcheck;
  volumes?: (string | { source?: string; target?: string })[];
  ports?: (string | number | Record<string, unknown>)[];
  restart?: string;
  read_only?: boolean;
  stop_grace_period?: string;
  user?: string;
  tmpfs?: string | string[];
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Substitutes Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
 * `${VAR?error}`, `${VAR:+alt}` and `$$` the way `docker compose` does, from `variables`.
 */
export function interpolate(text: string, variables: ReadonlyMap<string, string>, problems: string[] = []): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, name?: string, colon?: string, operator?: string, operand?: string, bareName?: string) => {
      if (whole === '$$') {
        return '$';
      }
      const variable = (name ?? bareName) as string;
      const value = variables.get(variable);
      const unset = value === undefined || (colon === ':' && value === '');
      switch (operator) {
        case '-':
          return unset ? (operand ?? '') : (value as string);
        case '?':
          if (unset) {
            problems.push(`${variable} is required: ${operand ?? ''}`);
            return '';
          }
          return value as string;
        case '+':
          return unset ? '' : (operand ?? '');
        case undefined:
        default:
          return value ?? '';
      }
    },
  );
}

function interpolateDeep(value: unknown, variables: ReadonlyMap<string, string>, problems: string[]): unknown {
  if (typeof value === 'string') {
    return interpolate(value, variables, problems);
  }
  if (Array.isArray(value)) {
    return value.map((item) => interpolateDeep(item, variables, problems));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [
        key,
        interpolateDeep(item, variables, problems),
      ]),
    );
  }
  return value;
}

/** The raw YAML (merge keys `<<` resolved), before variable substitution. */
export function readComposeRaw(relativePath: string): ComposeFile {
  return parse(readWorkspaceFile(relativePath), { merge: true, strict: true, uniqueKeys: true }) as ComposeFile;
}

/**
 * A Compose file as `docker compose config` would see it with `variables` (e.g. the committed
 * docker/.env.example), plus the problems met while substituting (missing required variables).
 */
export function loadCompose(
  relativePath: string,
  variables: ReadonlyMap<string, string>,
): { compose: ComposeFile; problems: string[] } {
  const problems: string[] = [];
  const compose = interpolateDeep(readComposeRaw(relativePath), variables, problems) as ComposeFile;
  return { compose, problems };
}

export function envExampleVariables(): Map<string, string> {
  return parseEnvFile(readWorkspaceFile('docker', '.env.example'));
}

/** `environment:` as a map, whichever of its two forms (map or KEY=value list) is used. */
export function environmentOf(service: ComposeService): Map<string, string> {
  const environment = service.environment;
  if (environment === undefined) {
    return new Map();
  }
  if (Array.isArray(environment)) {
    return new Map(
      environment.map((entry) => {
        const equals = entry.indexOf('=');
        return equals < 0 ? [entry, ''] : [entry.slice(0, equals), entry.slice(equals + 1)];
      }),
    );
  }
  return new Map(Object.entries(environment).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

export function dependsOnConditions(service: ComposeService): Map<string, string | undefined> {
  const dependsOn = service.depends_on;
  if (dependsOn === undefined) {
    return new Map();
  }
  if (Array.isArray(dependsOn)) {
    return new Map(dependsOn.map((name) => [name, undefined]));
  }
  return new Map(Object.entries(dependsOn).map(([name, spec]) => [name, spec?.condition]));
}

/** Compose durations (`1m30s`, `40s`, `500ms`) in milliseconds. */
export function durationMs(duration: string): number {
  let total = 0;
  let rest = duration.trim();
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|us|h|m|s)/.exec(rest);
    if (!match) {
      throw new Error(`not a duration: ${duration}`);
    }
    total += Number(match[1]) * unit[match[2]];
    rest = rest.slice(match[0].length);
  }
  return total;
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The repository root (this file is tools/deploy-checks/src/lib/workspace.ts). */
export const WORKSPACE_ROOT = join(__dirname, '..', '..', '..', '..');

export function workspacePath(...segments: string[]): string {
  return join(WORKSPACE_ROOT, ...segments);
}

export function readWorkspaceFile(...segments: string[]): string {
  return readFileSync(workspacePath(...segments), 'utf8');
}

interface ProjectJson {
  name?: string;
  tags?: string[];
}

/**
 * The deployable apps: every folder of apps/ with a project.json tagged `type:app` (not the
 * end-to-end tests, `type:e2e`, nor the dashboard, `type:frontend`, whose files the gateway serves).
 */
export function deployableApps(): string[] {
  const appsDir = workspacePath('apps');
  return readdirSync(appsDir)
    .filter((name) => existsSync(join(appsDir, name, 'project.json')))
    .filter((name) => {
      const project = JSON.parse(readFileSync(join(appsDir, name, 'project.json'), 'utf8')) as ProjectJson;
      return (project.tags ?? []).includes('type:app');
    })
    .sort();
}

/** Long-running apps (everything deployable except the one-shot db-migrator). */
export function longRunningApps(): string[] {
  return deployableApps().filter((app) => app !== 'db-migrator');
}

export function workerApps(): string[] {
  return deployableApps().filter((app) => app.startsWith('worker-'));
}

/** Task types, read from the `TaskType` enum of libs/contracts (this project may not import it). */
export function taskTypes(): string[] {
  const source = readWorkspaceFile('libs', 'contracts', 'src', 'lib', 'tasks', 'task-type.enum.ts');
  const body = /export enum TaskType \{([^}]*)\}/.exec(source)?.[1];
  if (!body) {
    throw new Error('cannot find `export enum TaskType { ... }` in libs/contracts task-type.enum.ts');
  }
  return [...body.matchAll(/=\s*'([^']+)'/g)].map((match) => match[1]).sort();
}

/** RabbitMQ queue of a task type (libs/contracts topology.ts: `${Exchange.Tasks}.${type}`). */
export function taskQueueName(type: string): string {
  return `tasklane.tasks.${type}`;
}

function walk(dir: string, found: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') {
      continue;
    }
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      walk(path, found);
    } else {
      found.push(path);
    }
  }
  return found;
}

export interface EnvVariable {
  name: string;
  /** The property initialiser, as a number or string; undefined when the variable has no default. */
  defaultValue: number | string | undefined;
  /** Workspace-relative path of the `*.env.ts` file that declares it. */
  declaredIn: string;
}

function parseDefault(raw: string | undefined): number | string | undefined {
  if (raw === undefined) {
    return undefined;
  }
  const text = raw.trim();
  if (/^-?[\d_]+(\.\d+)?$/.test(text)) {
    return Number(text.replace(/_/g, ''));
  }
  const quoted = /^'(.*)'$/.exec(text) ?? /^"(.*)"$/.exec(text);
  if (quoted) {
    return quoted[1];
  }
  return text;
}

/**
 * Every environment variable the apps read: the `readonly NAME: type = default;` properties of the
 * `*.env.ts` config classes under apps/ and libs/ (README "Configuration").
 */
export function declaredEnvVariables(): Map<string, EnvVariable> {
  const variables = new Map<string, EnvVariable>();
  const files = [...walk(workspacePath('apps')), ...walk(workspacePath('libs'))].filter((file) =>
    file.endsWith('.env.ts'),
  );
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/readonly\s+([A-Z][A-Z0-9_]*)\??\s*:\s*[^=;]+?(?:=\s*([^;]+))?;/g)) {
      variables.set(match[1], {
        name: match[1],
        defaultValue: parseDefault(match[2]),
        declaredIn: relative(WORKSPACE_ROOT, file),
      });
    }
  }
  return variables;
}

/**
 * Variables the manifests may set besides the declared ones: Node.js's own, and HEALTH_PORT (the
 * workers' and tracker's health/metrics port of issue #5, default 9400).
 */
export const EXTRA_ENV_VARIABLES: ReadonlyMap<string, number | string> = new Map<string, number | string>([
  ['HEALTH_PORT', 9400],
  ['NODE_ENV', 'production'],
  ['NODE_OPTIONS', ''],
]);

/** A variable that must never be set outside tests (README "Configuration"). */
export const FORBIDDEN_ENV_VARIABLES = ['TEST_CRASH_AFTER_INSERT'];

/** Default of SHUTDOWN_GRACE_MS (libs/config base.env.ts). */
export function defaultShutdownGraceMs(): number {
  const value = declaredEnvVariables().get('SHUTDOWN_GRACE_MS')?.defaultValue;
  if (typeof value !== 'number') {
    throw new Error('SHUTDOWN_GRACE_MS has no numeric default in the *.env.ts config classes');
  }
  return value;
}

/** Parses a KEY=value file (.env, kustomize env files): comments and blank lines skipped. */
export function parseEnvFile(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      continue;
    }
    const equals = trimmed.indexOf('=');
    if (equals <= 0) {
      throw new Error(`not a KEY=value line: ${JSON.stringify(line)}`);
    }
    entries.set(trimmed.slice(0, equals).trim(), trimmed.slice(equals + 1));
  }
  return entries;
}

/** `consumer_timeout` (ms) of a rabbitmq.conf text, or undefined when it does not set one. */
export function rabbitmqConsumerTimeout(conf: string): number | undefined {
  const match = /^\s*consumer_timeout\s*=\s*(\d+)\s*$/m.exec(conf);
  return match ? Number(match[1]) : undefined;
}

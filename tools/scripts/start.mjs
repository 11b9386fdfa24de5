// `npm start`: checks the services, builds the apps, applies migrations, then runs all six
// apps in this terminal with prefixed logs. Ctrl-C stops them all (each drains its work first).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkServices } from './check-services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const APPS = ['api-gateway', 'status-tracker', 'worker-email', 'worker-report', 'worker-analytics', 'worker-cleanup'];
const COLORS = [36, 33, 32, 35, 34, 31];
const width = Math.max(...APPS.map((app) => app.length));

function fail(message) {
  process.stderr.write(`\nnpm start: ${message}\n`);
  process.exit(1);
}

function step(title, command, args, env = process.env) {
  process.stdout.write(`\n▶ ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) {
    fail(`${title} failed (exit code ${result.status ?? result.signal}).`);
  }
}

const problems = await checkServices();
if (problems.length > 0) {
  fail(`cannot start: a service Tasklane needs is down.\n\n${problems.join('\n\n')}\n`);
}

const nxEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
step(
  'Building the apps',
  'npx',
  ['nx', 'run-many', '-t', 'build', '--projects=tag:type:app', '--parallel=2', '--output-style=static'],
  nxEnv,
);
step('Applying database migrations', process.execPath, [join(root, 'dist', 'apps', 'db-migrator', 'main.js'), 'up']);

const children = new Map();
let stopping = false;
let exitCode = 0;

function prefixLines(app, color, stream, target) {
  let buffered = '';
  stream.on('data', (chunk) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) {
      target.write(`\x1b[${color}m${app.padEnd(width)} |\x1b[0m ${line}\n`);
    }
  });
}

/**
 * The apps run in process groups of their own (`detached`), so a Ctrl-C in the terminal reaches
 * this script alone: each app then gets exactly one SIGTERM and drains. A second Ctrl-C sends a
 * second SIGTERM, on which the apps exit at once.
 */
const REPEATED_SIGNAL_AFTER_MS = 1_000;
let stoppedAt = 0;

function stopAll(signal) {
  if (stopping) {
    // npm forwards the terminal's SIGINT as well: a signal right after the first is that same Ctrl-C.
    if ((signal === 'SIGINT' || signal === 'SIGTERM') && Date.now() - stoppedAt > REPEATED_SIGNAL_AFTER_MS) {
      process.stdout.write(`\n■ ${signal} again: stopping the apps without waiting\n`);
      for (const child of children.values()) {
        child.kill('SIGTERM');
      }
    }
    return;
  }
  stopping = true;
  stoppedAt = Date.now();
  process.stdout.write(`\n■ stopping all apps (${signal}); each finishes its in-flight work first…\n`);
  for (const child of children.values()) {
    child.kill('SIGTERM');
  }
}

// Detached apps would outlive this script if it died some other way.
process.on('exit', () => {
  for (const child of children.values()) {
    child.kill('SIGKILL');
  }
});

process.stdout.write('\n▶ Starting the apps (Ctrl-C stops them all)\n');
process.stdout.write(
  `  API http://localhost:${process.env.PORT ?? '8000'}/api/tasks · dashboard http://localhost:${process.env.PORT ?? '8000'}/ui/ · API docs http://localhost:${process.env.PORT ?? '8000'}/api/docs\n`,
);
APPS.forEach((app, index) => {
  const main = join(root, 'dist', 'apps', app, 'main.js');
  if (!existsSync(main)) {
    fail(`${main} is missing after the build.`);
  }
  const child = spawn(process.execPath, ['--enable-source-maps', main], {
    cwd: root,
    // Each headless app serves /health and /metrics on its own port: 9401, 9402, …
    env: { LOG_FORMAT: 'pretty', ...process.env, HEALTH_PORT: String(9400 + index) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.set(app, child);
  prefixLines(app, COLORS[index], child.stdout, process.stdout);
  prefixLines(app, COLORS[index], child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    children.delete(app);
    if (!stopping) {
      process.stderr.write(`\n${app} exited unexpectedly (${code ?? signal}); stopping the others.\n`);
      exitCode = 1;
      stopAll('an app exited');
    } else if (code !== 0) {
      process.stderr.write(`\n${app} did not stop cleanly (${code ?? signal}).\n`);
      exitCode = 1;
    } else {
      process.stdout.write(`■ ${app} stopped\n`);
    }
    if (children.size === 0) {
      process.exit(exitCode);
    }
  });
});

process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));

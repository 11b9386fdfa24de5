// `npm test`: every check, in order, stopping at the first failure —
// format, lint (type-aware) and type-check, unit tests, integration tests against the real
// RabbitMQ and MySQL/MariaDB, then end-to-end tests of the six apps as separate processes.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkServices } from './check-services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const STAGE_TIMEOUT_MS = 30 * 60 * 1000;
const nx = (...args) => ['npx', ['nx', ...args, '--output-style=static']];

const stages = [
  ['Formatting (prettier --check)', 'npx', ['prettier', '--check', '.']],
  ['Lint, type-check and unit tests', ...nx('run-many', '-t', 'lint', 'typecheck', 'test', '--parallel=2')],
  ['Integration tests (real RabbitMQ and MySQL/MariaDB)', ...nx('run-many', '-t', 'integration', '--parallel=2')],
  ['End-to-end tests (the six apps as separate processes)', ...nx('run', 'tasklane-e2e:e2e')],
];

for (const [title, command, args] of stages) {
  if (title.startsWith('Integration')) {
    const problems = await checkServices();
    if (problems.length > 0) {
      process.stderr.write(
        `\nnpm test: the integration and end-to-end tests need RabbitMQ and MySQL/MariaDB.\n\n${problems.join('\n\n')}\n`,
      );
      process.exit(1);
    }
  }
  process.stdout.write(`\n━━ ${title}\n`);
  const started = Date.now();
  // A hung stage (a process that never exits) fails the run instead of stalling it.
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env,
    timeout: STAGE_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (result.error) {
    process.stderr.write(
      `\nnpm test: ${title} did not finish within ${STAGE_TIMEOUT_MS / 60_000} minutes (${result.error.message}).\n`,
    );
    process.exit(1);
  }
  if (result.status !== 0) {
    process.stderr.write(`\nnpm test: ${title} failed.\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`✔ ${title} (${Math.round((Date.now() - started) / 1000)} s)\n`);
}
process.stdout.write('\nAll tests passed.\n');

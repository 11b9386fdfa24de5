// `npm run bench`: builds the apps, then runs the benchmark (tools/bench/src/main.ts) with the
// arguments given after `--`; `npm run bench -- auth-flood [...]` runs the anonymous-flood
// benchmark (tools/bench/src/auth-flood.ts) instead. See docs/benchmarks.md.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkServices } from '../scripts/check-services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPTS = { 'auth-flood': 'tools/bench/src/auth-flood.ts' };
const script = SCRIPTS[process.argv[2]] ?? 'tools/bench/src/main.ts';
const args = process.argv.slice(SCRIPTS[process.argv[2]] ? 3 : 2);

if (!args.includes('--help')) {
  const problems = await checkServices();
  if (problems.length > 0) {
    process.stderr.write(`npm run bench: a service is down.\n\n${problems.join('\n\n')}\n`);
    process.exit(1);
  }
  const build = spawnSync(
    'npx',
    ['nx', 'run-many', '-t', 'build', '--projects=tag:type:app', '--parallel=2', '--output-style=static'],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' } },
  );
  if (build.status !== 0) {
    process.exit(build.status ?? 1);
  }
}
const bench = spawnSync(process.execPath, ['-r', '@swc-node/register', join(root, script), ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.base.json') },
});
process.exit(bench.status ?? 1);

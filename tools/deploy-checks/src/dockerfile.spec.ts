import {
  ParsedDockerfile,
  Stage,
  copyInstructions,
  envOf,
  execForm,
  expandArgs,
  externalBase,
  instructionsOf,
  parseDockerfile,
  runCommands,
  stageByName,
  stageChain,
} from './lib/dockerfile';
import { parseImageReference, unpinnedReason } from './lib/images';
import { FORBIDDEN_ENV_VARIABLES, deployableApps, readWorkspaceFile } from './lib/workspace';

const DOCKERFILE = 'docker/Dockerfile';

function load(): ParsedDockerfile {
  return parseDockerfile(readWorkspaceFile(DOCKERFILE));
}

/**
 * Every image a stage starts from that is not an earlier stage, for each value of APP (the last
 * stage's `FROM ${APP}` must resolve to a stage for every app, or it would pull an image).
 */
function externalImages(parsed: ParsedDockerfile): { stage: Stage; image: string }[] {
  const found: { stage: Stage; image: string }[] = [];
  for (const stage of parsed.stages) {
    const candidates = stage.base.includes('$')
      ? deployableApps().map((app) => expandArgs(stage.base, new Map([...parsed.globalArgs, ['APP', app]])))
      : [stage.base];
    for (const image of new Set(candidates)) {
      const isStage = parsed.stages.some((other) => other.name === image.toLowerCase() && other.index < stage.index);
      if (!isStage) {
        found.push({ stage, image });
      }
    }
  }
  return found;
}

describe('docker/Dockerfile', () => {
  const parsed = load();
  const apps = deployableApps();

  it('is multi-stage: a build stage, a production-dependencies stage and a runtime stage', () => {
    expect(parsed.stages.length).toBeGreaterThanOrEqual(3);
    const build = stageByName(parsed, 'build');
    const prodDeps = stageByName(parsed, 'prod-deps');
    expect(build).toBeDefined();
    expect(prodDeps).toBeDefined();

    const buildRuns = runCommands(build as Stage).join('\n');
    expect(buildRuns).toMatch(/\bnpm ci\b/);
    expect(buildRuns).toMatch(/\bnx build "?\$\{?APP\}?"?/);
    expect(envOf([build as Stage]).get('NX_DAEMON')).toBe('false');
    expect(envOf([build as Stage]).get('NX_NO_CLOUD')).toBe('true');

    // prod-deps installs only the generated package.json + lock of the app, without devDependencies.
    const prodCopies = copyInstructions(prodDeps as Stage);
    expect(prodCopies.flatMap((copy) => copy.sources).sort()).toEqual([
      '/workspace/dist/apps/${APP}/package-lock.json',
      '/workspace/dist/apps/${APP}/package.json',
    ]);
    expect(prodCopies.every((copy) => copy.from === 'build')).toBe(true);
    const prodRuns = runCommands(prodDeps as Stage).join('\n');
    expect(prodRuns).toMatch(/\bnpm ci\b[^\n]*--omit=dev/);
  });

  it('has a final stage for every deployable app in apps/', () => {
    const missing = apps.filter((app) => !stageByName(parsed, app));
    expect(missing).toEqual([]);
    // `docker build --build-arg APP=<app>` ends in the stage named after the app.
    const last = parsed.stages[parsed.stages.length - 1];
    expect(last.base).toMatch(/^\$\{?APP\}?$/);
  });

  it('pins every base image to an exact version (no latest, no floating tag) on Node.js 20 slim', () => {
    const problems: string[] = [];
    for (const { stage, image } of externalImages(parsed)) {
      const reason = unpinnedReason(image);
      if (reason) {
        problems.push(`stage ${stage.name ?? stage.index}: ${reason}`);
      }
      const { name, tag } = parseImageReference(image);
      if (name !== 'node' && !name.startsWith('gcr.io/distroless/nodejs20')) {
        problems.push(`stage ${stage.name ?? stage.index}: unexpected base image ${image}`);
      }
      if (name === 'node' && !/^20\.\d+\.\d+-(bookworm-slim|bookworm)$/.test(tag ?? '')) {
        problems.push(`stage ${stage.name ?? stage.index}: ${image} is not an exact node:20.x.y-bookworm(-slim) tag`);
      }
    }
    expect(problems).toEqual([]);
  });

  describe.each(deployableApps())('the image of %s', (app) => {
    const buildArgs = new Map([['APP', app]]);
    const chain = stageChain(parsed, buildArgs);
    const runtimeChain = chain;

    it('ends in the stage named after the app', () => {
      expect(chain.map((stage) => stage.name)).toContain(app);
    });

    it('runs as a numeric non-root user', () => {
      const users = instructionsOf(runtimeChain, 'USER');
      expect(users.length).toBeGreaterThan(0);
      const user = users[users.length - 1].getArgumentsContent()?.trim() ?? '';
      expect(user).toMatch(/^\d+(:\d+)?$/);
      expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    });

    it('sets NODE_ENV=production and never a test-only variable', () => {
      const env = envOf(runtimeChain);
      expect(env.get('NODE_ENV')).toBe('production');
      for (const forbidden of FORBIDDEN_ENV_VARIABLES) {
        expect(env.has(forbidden)).toBe(false);
      }
    });

    it('starts with `node main.js` (db-migrator: `node main.js up`) in exec form, without npm', () => {
      const cmds = instructionsOf(runtimeChain, 'CMD');
      const entrypoints = instructionsOf(runtimeChain, 'ENTRYPOINT');
      expect(entrypoints).toEqual([]);
      const command = execForm(cmds[cmds.length - 1]);
      expect(command).toEqual(app === 'db-migrator' ? ['node', 'main.js', 'up'] : ['node', 'main.js']);
    });

    it('contains only the bundle and production node_modules: no sources, no dev tooling', () => {
      const problems: string[] = [];
      for (const stage of runtimeChain) {
        for (const copy of copyInstructions(stage)) {
          if (copy.from === undefined) {
            problems.push(`stage ${stage.name}: COPY from the build context (${copy.sources.join(' ')})`);
          } else if (copy.from === 'prod-deps') {
            if (!copy.sources.every((source) => source === '/app/node_modules')) {
              problems.push(`stage ${stage.name}: copies ${copy.sources.join(' ')} from prod-deps`);
            }
          } else if (copy.from === 'build') {
            // Build output only: the app's bundle, and for the gateway the dashboard's static files it serves.
            const built = (source: string) =>
              source.startsWith('/workspace/dist/apps/${APP}/') ||
              (stage.name === 'api-gateway' && source === '/workspace/dist/apps/dashboard');
            const outside = copy.sources.filter((source) => !built(source));
            if (outside.length > 0) {
              problems.push(
                `stage ${stage.name}: copies ${outside.join(' ')} from build (only dist/apps/$APP, and the dashboard for the gateway)`,
              );
            }
          } else {
            problems.push(`stage ${stage.name}: copies from ${copy.from}`);
          }
        }
        for (const run of runCommands(stage)) {
          if (/\b(npm|npx|yarn|pnpm) (ci|install|i|add)\b/.test(run) || /\bnx\b/.test(run)) {
            problems.push(`stage ${stage.name}: installs or builds at runtime: ${run}`);
          }
        }
      }
      // npm itself is removed from the final image (or absent, on distroless).
      const base = parseImageReference(externalBase(runtimeChain, buildArgs)).name;
      if (base === 'node') {
        const runs = runtimeChain.flatMap(runCommands).join('\n');
        if (!/rm -rf[^\n]*\/usr\/local\/lib\/node_modules/.test(runs)) {
          problems.push('npm is not removed from the node base image (rm -rf /usr/local/lib/node_modules)');
        }
      }
      expect(problems).toEqual([]);
    });

    it('does not build or install anything: the runtime chain starts from a base image, not from build', () => {
      expect(chain.map((stage) => stage.name)).not.toContain('build');
      expect(chain.map((stage) => stage.name)).not.toContain('prod-deps');
    });
  });
});

describe('.dockerignore', () => {
  const patterns = readWorkspaceFile('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it.each([
    ['node_modules', /^(\*\*\/)?node_modules\/?$/],
    ['dist', /^\/?dist\/?$/],
    ['tmp', /^\/?tmp\/?$/],
    ['var', /^\/?var\/?$/],
    ['.git', /^\/?\.git\/?$/],
    ['coverage', /^\/?coverage\/?$/],
    ['.nx', /^\/?\.nx\/?$/],
    ['*.env', /^(\*\*\/)?\*\.env$/],
  ])('excludes %s', (_what, pattern) => {
    expect(patterns.some((line) => pattern.test(line))).toBe(true);
  });

  it('does not exclude what the build needs', () => {
    for (const needed of [
      'package.json',
      'package-lock.json',
      'apps',
      'libs',
      'tools',
      'nx.json',
      'tsconfig.base.json',
    ]) {
      expect(patterns).not.toContain(needed);
    }
  });
});

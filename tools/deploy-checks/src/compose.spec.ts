import { existsSync } from 'node:fs';
import {
  ComposeFile,
  ComposeService,
  dependsOnConditions,
  durationMs,
  environmentOf,
  envExampleVariables,
  loadCompose,
  readComposeRaw,
} from './lib/compose';
import { parseImageReference, unpinnedReason } from './lib/images';
import {
  EXTRA_ENV_VARIABLES,
  FORBIDDEN_ENV_VARIABLES,
  declaredEnvVariables,
  defaultShutdownGraceMs,
  deployableApps,
  rabbitmqConsumerTimeout,
  readWorkspaceFile,
  workspacePath,
} from './lib/workspace';

const FULL = 'docker/docker-compose.yml';
const DEV = 'docker/docker-compose.dev.yml';

/** The Compose service that runs an app: db-migrator is the one-shot `migrate`. */
function serviceNameOf(app: string): string {
  return app === 'db-migrator' ? 'migrate' : app;
}

function healthcheckTest(service: ComposeService): string {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : (test ?? '');
}

function mountTargets(service: ComposeService): string[] {
  return (service.volumes ?? []).map((volume) =>
    typeof volume === 'string' ? (volume.split(':')[1] ?? volume) : (volume.target ?? ''),
  );
}

/** consumer_timeout of every RabbitMQ config file a service mounts from docker/. */
function mountedConsumerTimeouts(service: ComposeService): number[] {
  return (service.volumes ?? [])
    .filter((volume): volume is string => typeof volume === 'string' && volume.startsWith('./'))
    .map((volume) => volume.split(':')[0])
    .filter((source) => source.endsWith('.conf'))
    .map((source) => rabbitmqConsumerTimeout(readWorkspaceFile('docker', source)))
    .filter((timeout): timeout is number => timeout !== undefined);
}

describe('docker/.env.example', () => {
  it('is committed, and the real docker/.env is git-ignored', () => {
    expect(existsSync(workspacePath('docker', '.env.example'))).toBe(true);
    const ignored = readWorkspaceFile('.gitignore')
      .split('\n')
      .map((line) => line.trim());
    expect(ignored).toContain('.env');
  });

  it('provides every variable docker-compose.yml requires', () => {
    const { problems } = loadCompose(FULL, envExampleVariables());
    expect(problems).toEqual([]);
  });

  it('has only variables the Compose files use', () => {
    const text = readWorkspaceFile(FULL) + readWorkspaceFile(DEV);
    const unused = [...envExampleVariables().keys()].filter((name) => !new RegExp(`\\$\\{${name}\\b`).test(text));
    expect(unused).toEqual([]);
  });
});

describe('docker/docker-compose.yml', () => {
  const { compose } = loadCompose(FULL, envExampleVariables());
  const services = compose.services;
  const apps = deployableApps();
  const appServices = apps.map(serviceNameOf);
  const declared = declaredEnvVariables();

  it('has a service for every deployable app in apps/, plus RabbitMQ and MySQL', () => {
    expect(Object.keys(services).sort()).toEqual([...appServices, 'mysql', 'rabbitmq'].sort());
  });

  it.each(apps)('builds %s from docker/Dockerfile with APP set to it', (app) => {
    const service = services[serviceNameOf(app)];
    expect(service.build?.dockerfile).toBe('docker/Dockerfile');
    expect(service.build?.context).toBe('..');
    expect(service.build?.args).toEqual({ APP: app });
    expect(parseImageReference(service.image ?? '').name).toBe(`tasklane/${app}`);
  });

  it('pins every image to an exact version (with the defaults of docker/.env.example)', () => {
    const problems = Object.entries(services)
      .map(([name, service]) => [name, unpinnedReason(service.image ?? '')])
      .filter(([, reason]) => reason !== undefined);
    expect(problems).toEqual([]);
  });

  it('runs RabbitMQ with classic-queue support and the management plugin, MySQL 8.4', () => {
    expect(services.rabbitmq.image).toMatch(/^rabbitmq:(3\.13|4\.\d+)\.\d+-management$/);
    expect(services.mysql.image).toMatch(/^mysql:8\.4\.\d+$/);
  });

  it('health-checks every long-running service', () => {
    const missing = Object.entries(services)
      .filter(([name]) => name !== 'migrate')
      .filter(([, service]) => service.healthcheck?.disable === true || healthcheckTest(service) === '')
      .map(([name]) => name);
    expect(missing).toEqual([]);
  });

  it.each(apps.filter((app) => app !== 'db-migrator'))("health-checks %s on its own port's /health/ready", (app) => {
    const port = app === 'api-gateway' ? 8000 : 9400;
    expect(healthcheckTest(services[app])).toContain(`http://127.0.0.1:${port}/health/ready`);
  });

  it('runs migrate once (node main.js up) after MySQL is healthy', () => {
    const migrate = services.migrate;
    expect(migrate.command).toEqual(['node', 'main.js', 'up']);
    expect(migrate.restart).toBe('no');
    expect(dependsOnConditions(migrate).get('mysql')).toBe('service_healthy');
  });

  it.each(apps.filter((app) => app !== 'db-migrator'))(
    'starts %s only after RabbitMQ and MySQL are healthy and migrate succeeded',
    (app) => {
      const conditions = dependsOnConditions(services[app]);
      expect(conditions.get('rabbitmq')).toBe('service_healthy');
      expect(conditions.get('mysql')).toBe('service_healthy');
      expect(conditions.get('migrate')).toBe('service_completed_successfully');
    },
  );

  it.each(apps.filter((app) => app !== 'db-migrator'))(
    'gives %s a stop_grace_period longer than its SHUTDOWN_GRACE_MS',
    (app) => {
      const service = services[app];
      const graceMs = Number(environmentOf(service).get('SHUTDOWN_GRACE_MS') ?? defaultShutdownGraceMs());
      expect(service.stop_grace_period).toBeDefined();
      expect(durationMs(service.stop_grace_period ?? '0s')).toBeGreaterThan(graceMs);
    },
  );

  it('runs the apps with a read-only root filesystem and a writable /tmp', () => {
    for (const app of appServices) {
      expect({ app, readOnly: services[app].read_only }).toEqual({ app, readOnly: true });
    }
    for (const app of apps.filter((name) => name !== 'db-migrator')) {
      const tmpfs = services[app].tmpfs;
      expect({ app, tmpfs: Array.isArray(tmpfs) ? tmpfs : [tmpfs] }).toEqual({ app, tmpfs: ['/tmp'] });
    }
  });

  it('mounts a volume where worker-report and worker-email write', () => {
    const report = services['worker-report'];
    const email = services['worker-email'];
    const reportsDir = environmentOf(report).get('REPORTS_DIR') ?? '';
    const outboxDir = environmentOf(email).get('MAIL_OUTBOX_DIR') ?? '';
    expect(reportsDir).toMatch(/^\//);
    expect(outboxDir).toMatch(/^\//);
    expect(mountTargets(report)).toContain(reportsDir);
    expect(mountTargets(email)).toContain(outboxDir);
  });

  it('sets only variables the apps declare, with credentials for RabbitMQ and MySQL', () => {
    const problems: string[] = [];
    for (const app of appServices) {
      const environment = environmentOf(services[app]);
      for (const name of environment.keys()) {
        if (!declared.has(name) && !EXTRA_ENV_VARIABLES.has(name)) {
          problems.push(`${app}: ${name} is not read by any app (*.env.ts)`);
        }
      }
      if (app !== 'migrate') {
        expect(environment.get('AMQP_URL')).toMatch(/^amqp:\/\/[^:]+:[^@]+@rabbitmq:5672\/\w+$/);
      }
      expect(environment.get('DATABASE_URL')).toMatch(/^mysql:\/\/[^:]+:[^@]+@mysql:3306\/\w+$/);
    }
    expect(problems).toEqual([]);
  });

  it('keeps RabbitMQ consumer_timeout above the workers’ DELIVERY_MAX_WAIT_MS', () => {
    const timeouts = mountedConsumerTimeouts(services.rabbitmq);
    expect(timeouts.length).toBeGreaterThan(0);
    const defaultWait = Number(declared.get('DELIVERY_MAX_WAIT_MS')?.defaultValue);
    for (const app of apps.filter((name) => name.startsWith('worker-'))) {
      const wait = Number(environmentOf(services[app]).get('DELIVERY_MAX_WAIT_MS') ?? defaultWait);
      expect(Math.min(...timeouts)).toBeGreaterThan(wait);
    }
  });
});

describe('docker/docker-compose.dev.yml', () => {
  const compose: ComposeFile = readComposeRaw(DEV);
  const services = compose.services;

  it('runs only the infrastructure: RabbitMQ and MySQL', () => {
    expect(Object.keys(services).sort()).toEqual(['mysql', 'rabbitmq']);
  });

  it('pins both images and health-checks both services', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, unpinned: unpinnedReason(service.image ?? '') }).toEqual({ name, unpinned: undefined });
      expect({ name, healthcheck: healthcheckTest(service) !== '' }).toEqual({ name, healthcheck: true });
    }
    expect(services.rabbitmq.image).toBe(readComposeRaw(FULL).services.rabbitmq.image);
    expect(services.mysql.image).toBe(readComposeRaw(FULL).services.mysql.image);
  });

  it('publishes its ports on 127.0.0.1 only', () => {
    const ports = Object.values(services).flatMap((service) => service.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      expect(String(port)).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('keeps RabbitMQ consumer_timeout above the default DELIVERY_MAX_WAIT_MS', () => {
    const defaultWait = Number(declaredEnvVariables().get('DELIVERY_MAX_WAIT_MS')?.defaultValue);
    const timeouts = mountedConsumerTimeouts(services.rabbitmq);
    expect(timeouts.length).toBeGreaterThan(0);
    expect(Math.min(...timeouts)).toBeGreaterThan(defaultWait);
  });
});

describe('the Docker files', () => {
  it.each(FORBIDDEN_ENV_VARIABLES)('never mention %s', (name) => {
    for (const file of [FULL, DEV, 'docker/.env.example', 'docker/Dockerfile']) {
      expect({ file, mentions: readWorkspaceFile(file).includes(name) }).toEqual({ file, mentions: false });
    }
  });
});

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseImageReference, unpinnedReason } from './lib/images';
import { UnknownFieldChecker, schemaProblems } from './lib/k8s-schema';
import { KubeObject, Workload, describeObject, findObject, isWorkload, objectsOfKind, selects } from './lib/kustomize';
import { allows, hasDefaultDenyAll } from './lib/network-policy';
import { appContainer, effectiveEnv, resolvePort } from './lib/pods';
import { Render, appRenders, renderAll, usesKeda } from './lib/renders';
import {
  EXTRA_ENV_VARIABLES,
  FORBIDDEN_ENV_VARIABLES,
  declaredEnvVariables,
  deployableApps,
  longRunningApps,
  parseEnvFile,
  rabbitmqConsumerTimeout,
  readWorkspaceFile,
  taskQueueName,
  taskTypes,
  workerApps,
  workspacePath,
} from './lib/workspace';

const renders = renderAll();
const byLabel = (label: string): Render => {
  const render = renders.find((candidate) => candidate.label === label);
  if (!render) {
    throw new Error(`no render of ${label}; rendered: ${renders.map((r) => r.label).join(', ')}`);
  }
  return render;
};
const labels = renders.map((render) => render.label);
const appRenderLabels = appRenders(renders).map((render) => render.label);
const overlayLabels = appRenderLabels.filter((label) => label !== 'k8s/base');

interface ScaledObjectSpec {
  scaleTargetRef: { name: string; kind?: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  triggers: {
    type: string;
    metadata: Record<string, string>;
    authenticationRef?: { name: string; kind?: string };
  }[];
}

function secretData(secret: KubeObject | undefined): Record<string, string> {
  return {
    ...((secret?.data as Record<string, string> | undefined) ?? {}),
    ...((secret?.stringData as Record<string, string> | undefined) ?? {}),
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('kubectl kustomize', () => {
  it('renders k8s/base, both overlays, the prod infrastructure and the components', () => {
    expect(labels).toEqual(
      expect.arrayContaining([
        'k8s/base',
        'k8s/overlays/dev',
        'k8s/overlays/prod',
        'k8s/overlays/prod/infrastructure',
        'k8s/overlays/dev + k8s/components/without-keda',
      ]),
    );
    for (const render of renders) {
      expect({ render: render.label, objects: render.objects.length > 0 }).toEqual({
        render: render.label,
        objects: true,
      });
    }
  });
});

describe.each(labels)('%s', (label) => {
  const render = byLabel(label);
  const objects = render.objects;

  it('validates against the Kubernetes, KEDA and Prometheus Operator schemas', () => {
    expect(objects.flatMap(schemaProblems)).toEqual([]);
  });

  it('has no duplicate objects and every namespaced object in one namespace', () => {
    const keys = objects.map((object) => `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`);
    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
    const namespaces = new Set(
      objects.filter((object) => object.kind !== 'Namespace').map((object) => object.metadata.namespace),
    );
    expect([...namespaces]).toEqual([label.includes('infrastructure') ? 'tasklane-data' : 'tasklane']);
    const declared = objectsOfKind(objects, 'Namespace').map((namespace) => namespace.metadata.name);
    expect(declared).toEqual([...namespaces]);
  });

  it('never sets a test-only variable', () => {
    const text = JSON.stringify(objects);
    for (const name of FORBIDDEN_ENV_VARIABLES) {
      expect(text).not.toContain(name);
    }
  });

  it('pins every container image (no :latest, no floating or missing tag)', () => {
    const images = objects
      .filter(isWorkload)
      .flatMap((workload) =>
        [...workload.spec.template.spec.containers, ...(workload.spec.template.spec.initContainers ?? [])].map(
          (container) => ({ where: describeObject(workload), image: container.image ?? '' }),
        ),
      )
      .concat(
        objects
          .filter((object) => typeof (object.spec as { image?: unknown } | undefined)?.image === 'string')
          .map((object) => ({ where: describeObject(object), image: (object.spec as { image: string }).image })),
      );
    const problems = images
      .map(({ where, image }) => ({ where, reason: unpinnedReason(image) }))
      .filter(({ reason }) => reason !== undefined);
    expect(problems).toEqual([]);
  });
});

describe('no field unknown to the API (what `kubectl apply --validate=strict` rejects)', () => {
  const checker = new UnknownFieldChecker();

  it.each(labels)('%s', (label) => {
    expect(byLabel(label).objects.flatMap((object) => checker.unknownFields(object))).toEqual([]);
  });

  it('is able to find one', () => {
    const deployment = byLabel('k8s/base').objects.find((object) => object.kind === 'Deployment') as Workload;
    const broken = structuredClone(deployment) as Workload & { spec: { template: { spec: Record<string, unknown> } } };
    (broken.spec.template.spec.containers[0] as unknown as Record<string, unknown>).readinesProbe = {};
    broken.spec.template.spec['terminationGracePeriod'] = 30;
    expect(checker.unknownFields(broken)).toEqual([
      `Deployment/${deployment.metadata.name}: unknown field spec.template.spec.containers[0].readinesProbe`,
      `Deployment/${deployment.metadata.name}: unknown field spec.template.spec.terminationGracePeriod`,
    ]);
  });
});

describe.each(appRenderLabels)('references in %s', (label) => {
  const objects = byLabel(label).objects;
  const workloads = objects.filter(isWorkload);
  const isBase = label === 'k8s/base';

  it('point at Secrets, ConfigMaps and claims that exist (base: the Secret the overlays generate)', () => {
    const problems: string[] = [];
    for (const workload of workloads) {
      const pod = workload.spec.template.spec;
      for (const container of pod.containers) {
        for (const variable of container.env ?? []) {
          const secretRef = variable.valueFrom?.secretKeyRef;
          if (secretRef) {
            const secret = findObject(objects, 'Secret', secretRef.name);
            if (isBase) {
              if (secretRef.name !== 'tasklane-secrets') {
                problems.push(`${describeObject(workload)}: ${variable.name} from unknown Secret ${secretRef.name}`);
              }
            } else if (!secret) {
              problems.push(`${describeObject(workload)}: ${variable.name} from missing Secret ${secretRef.name}`);
            } else if (!secretRef.optional && secretData(secret)[secretRef.key] === undefined) {
              problems.push(`${describeObject(workload)}: Secret ${secretRef.name} has no key ${secretRef.key}`);
            }
          }
          const configMapRef = variable.valueFrom?.configMapKeyRef;
          if (configMapRef && !findObject(objects, 'ConfigMap', configMapRef.name)) {
            problems.push(`${describeObject(workload)}: missing ConfigMap ${configMapRef.name}`);
          }
        }
        for (const source of container.envFrom ?? []) {
          if (source.configMapRef && !findObject(objects, 'ConfigMap', source.configMapRef.name)) {
            problems.push(`${describeObject(workload)}: envFrom missing ConfigMap ${source.configMapRef.name}`);
          }
        }
        const claimTemplates = (workload.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] })
          .volumeClaimTemplates;
        const volumeNames = new Set([
          ...(pod.volumes ?? []).map((volume) => volume.name),
          ...(claimTemplates ?? []).map((template) => template.metadata.name),
        ]);
        for (const mount of container.volumeMounts ?? []) {
          if (!volumeNames.has(mount.name)) {
            problems.push(`${describeObject(workload)}: mounts undefined volume ${mount.name}`);
          }
        }
      }
      for (const volume of pod.volumes ?? []) {
        if (volume.configMap && !findObject(objects, 'ConfigMap', volume.configMap.name)) {
          problems.push(`${describeObject(workload)}: volume from missing ConfigMap ${volume.configMap.name}`);
        }
        if (
          volume.persistentVolumeClaim &&
          !findObject(objects, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName)
        ) {
          problems.push(
            `${describeObject(workload)}: missing PersistentVolumeClaim ${volume.persistentVolumeClaim.claimName}`,
          );
        }
      }
      if (pod.serviceAccountName && !findObject(objects, 'ServiceAccount', pod.serviceAccountName)) {
        problems.push(`${describeObject(workload)}: missing ServiceAccount ${pod.serviceAccountName}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('select workloads from Services, PodDisruptionBudgets and autoscalers', () => {
    const problems: string[] = [];
    const podsOf = (selector: Record<string, string> | undefined): Workload[] =>
      workloads.filter((workload) => selects(selector, workload.spec.template.metadata?.labels));
    for (const service of objectsOfKind(objects, 'Service')) {
      const spec = service.spec as { selector?: Record<string, string>; ports: { targetPort?: number | string }[] };
      const targets = podsOf(spec.selector);
      if (targets.length !== 1) {
        problems.push(`${describeObject(service)} selects ${targets.length} workloads`);
        continue;
      }
      for (const port of spec.ports) {
        if (resolvePort(appContainer(targets[0]), port.targetPort) === undefined) {
          problems.push(
            `${describeObject(service)}: targetPort ${String(port.targetPort)} not on ${describeObject(targets[0])}`,
          );
        }
      }
    }
    for (const pdb of objectsOfKind(objects, 'PodDisruptionBudget')) {
      const selector = (pdb.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels;
      if (podsOf(selector).length !== 1) {
        problems.push(`${describeObject(pdb)} selects ${podsOf(selector).length} workloads`);
      }
    }
    for (const hpa of objectsOfKind(objects, 'HorizontalPodAutoscaler')) {
      const target = (hpa.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef;
      if (!findObject(objects, target.kind, target.name)) {
        problems.push(`${describeObject(hpa)} scales missing ${target.kind}/${target.name}`);
      }
    }
    for (const ingress of objectsOfKind(objects, 'Ingress')) {
      const rules = (
        ingress.spec as {
          rules: {
            http: { paths: { backend: { service: { name: string; port: { name?: string; number?: number } } } }[] };
          }[];
        }
      ).rules;
      for (const path of rules.flatMap((rule) => rule.http.paths)) {
        const service = findObject(objects, 'Service', path.backend.service.name);
        const ports = (service?.spec as { ports: { name?: string; port: number }[] } | undefined)?.ports ?? [];
        if (
          !ports.some(
            (port) => port.name === path.backend.service.port.name || port.port === path.backend.service.port.number,
          )
        ) {
          problems.push(`${describeObject(ingress)}: no Service port ${JSON.stringify(path.backend.service)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('scale each worker on its own task queue with KEDA (when KEDA is used)', () => {
    const scaledObjects = objectsOfKind(objects, 'ScaledObject');
    if (!usesKeda(byLabel(label))) {
      expect(scaledObjects).toEqual([]);
      return;
    }
    const queues = new Set(taskTypes().map(taskQueueName));
    const problems: string[] = [];
    for (const scaledObject of scaledObjects) {
      const spec = scaledObject.spec as ScaledObjectSpec;
      const target = findObject(objects, spec.scaleTargetRef.kind ?? 'Deployment', spec.scaleTargetRef.name);
      if (!target || target.kind !== 'Deployment') {
        problems.push(
          `${describeObject(scaledObject)}: scaleTargetRef ${spec.scaleTargetRef.name} is not a Deployment here`,
        );
      }
      if ((spec.minReplicaCount ?? 0) > (spec.maxReplicaCount ?? 100)) {
        problems.push(`${describeObject(scaledObject)}: minReplicaCount > maxReplicaCount`);
      }
      for (const trigger of spec.triggers) {
        const { queueName, protocol, mode, value } = trigger.metadata;
        if (trigger.type !== 'rabbitmq' || protocol !== 'amqp' || mode !== 'QueueLength') {
          problems.push(`${describeObject(scaledObject)}: trigger must be rabbitmq, protocol amqp, mode QueueLength`);
        }
        if (!queues.has(queueName)) {
          problems.push(
            `${describeObject(scaledObject)}: ${queueName} is not a task queue (${[...queues].join(', ')})`,
          );
        }
        if (queueName !== taskQueueName(spec.scaleTargetRef.name.replace(/^worker-/, ''))) {
          problems.push(`${describeObject(scaledObject)}: scales ${spec.scaleTargetRef.name} on ${queueName}`);
        }
        if (!/^\d+$/.test(value ?? '') || Number(value) < 1) {
          problems.push(`${describeObject(scaledObject)}: value ${value} is not a positive integer string`);
        }
        if ('host' in trigger.metadata || 'hostFromEnv' in trigger.metadata) {
          problems.push(`${describeObject(scaledObject)}: the broker URL must come from the TriggerAuthentication`);
        }
        const auth =
          trigger.authenticationRef && findObject(objects, 'TriggerAuthentication', trigger.authenticationRef.name);
        if (!auth) {
          problems.push(
            `${describeObject(scaledObject)}: missing TriggerAuthentication ${trigger.authenticationRef?.name}`,
          );
          continue;
        }
        const refs =
          (auth.spec as { secretTargetRef?: { parameter: string; name: string; key: string }[] }).secretTargetRef ?? [];
        const host = refs.find((ref) => ref.parameter === 'host');
        if (!host) {
          problems.push(`${describeObject(auth)}: no secretTargetRef for parameter host`);
        } else if (isBase) {
          expect(host.name).toBe('tasklane-secrets');
        } else if (secretData(findObject(objects, 'Secret', host.name))[host.key] === undefined) {
          problems.push(
            `${describeObject(auth)}: Secret ${host.name} has no key ${host.key} (hash suffix not rewritten?)`,
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('name the migration Job after the db-migrator image tag, running `node main.js up`', () => {
    const jobs = objectsOfKind<Workload>(objects, 'Job');
    expect(jobs).toHaveLength(1);
    const container = appContainer(jobs[0]);
    const tag = parseImageReference(container.image ?? '').tag;
    expect(jobs[0].metadata.name).toBe(`tasklane-db-migrate-${tag}`);
    expect(parseImageReference(container.image ?? '').name).toMatch(/(^|\/)tasklane\/db-migrator$/);
    expect([...(container.command ?? []), ...(container.args ?? [])]).toEqual(['node', 'main.js', 'up']);
    expect(['Never', 'OnFailure']).toContain(jobs[0].spec.template.spec.restartPolicy);
  });

  it('configure the apps only with variables they read, with valid values', () => {
    const declared = declaredEnvVariables();
    const problems: string[] = [];
    for (const configMap of objectsOfKind(objects, 'ConfigMap').filter((c) =>
      c.metadata.name.startsWith('tasklane-config'),
    )) {
      for (const [key, value] of Object.entries(configMap.data as Record<string, string>)) {
        const variable = declared.get(key);
        if (!variable && !EXTRA_ENV_VARIABLES.has(key)) {
          problems.push(`${describeObject(configMap)}: ${key} is not read by any app`);
        } else if (
          typeof (variable?.defaultValue ?? EXTRA_ENV_VARIABLES.get(key)) === 'number' &&
          !/^\d+$/.test(value)
        ) {
          problems.push(`${describeObject(configMap)}: ${key}=${value} is not an integer`);
        }
      }
    }
    for (const workload of workloads.filter((w) => w.metadata.labels?.['app.kubernetes.io/part-of'] === 'tasklane')) {
      for (const name of effectiveEnv(appContainer(workload), objects).keys()) {
        if (!declared.has(name) && !EXTRA_ENV_VARIABLES.has(name)) {
          problems.push(`${describeObject(workload)}: ${name} is not read by any app`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe.each(appRenderLabels)('NetworkPolicies of %s', (label) => {
  const objects = byLabel(label).objects;
  const deployments = objectsOfKind<Workload>(objects, 'Deployment');
  const podLabels = (name: string): Record<string, string> =>
    (deployments.find((deployment) => deployment.metadata.name === name)?.spec.template.metadata?.labels ??
      {}) as Record<string, string>;
  const anywhere = { namespaceLabels: { 'kubernetes.io/metadata.name': 'elsewhere' } };
  const infrastructure = label.includes('prod')
    ? { namespaceLabels: { 'kubernetes.io/metadata.name': 'tasklane-data' } }
    : {
        sameNamespace: true,
        namespaceLabels: { 'kubernetes.io/metadata.name': 'tasklane' },
        podLabels: { 'app.kubernetes.io/name': 'rabbitmq' },
      };

  it('deny everything by default', () => {
    expect(hasDefaultDenyAll(objects)).toBe(true);
  });

  it.each(longRunningApps())('let %s reach RabbitMQ (5672), MySQL (3306) and DNS (53)', (app) => {
    const labels = podLabels(app);
    expect(allows(objects, 'Egress', labels, infrastructure, 5672)).toBe(true);
    expect(
      allows(objects, 'Egress', labels, { ...infrastructure, podLabels: { 'app.kubernetes.io/name': 'mysql' } }, 3306),
    ).toBe(true);
    expect(allows(objects, 'Egress', labels, anywhere, 53, 'UDP')).toBe(true);
    expect(allows(objects, 'Egress', labels, anywhere, 53, 'TCP')).toBe(true);
    // … and nothing else, e.g. HTTPS to the internet.
    expect(allows(objects, 'Egress', labels, anywhere, 443)).toBe(false);
  });

  it('let only worker-email reach SMTP servers', () => {
    for (const app of longRunningApps()) {
      expect({ app, smtp: allows(objects, 'Egress', podLabels(app), anywhere, 587) }).toEqual({
        app,
        smtp: app === 'worker-email',
      });
    }
  });

  it('let clients reach the gateway on 8000, and nothing else from outside', () => {
    const client = { namespaceLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' }, podLabels: {} };
    expect(allows(objects, 'Ingress', podLabels('api-gateway'), client, 8000)).toBe(true);
    for (const app of longRunningApps().filter((name) => name !== 'api-gateway')) {
      expect({ app, open: allows(objects, 'Ingress', podLabels(app), client, 9400) }).toEqual({ app, open: false });
    }
  });

  it.each(longRunningApps())('let Prometheus (namespace monitoring) scrape %s', (app) => {
    const prometheus = { namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' }, podLabels: {} };
    const port = app === 'api-gateway' ? 8000 : 9400;
    expect(allows(objects, 'Ingress', podLabels(app), prometheus, port)).toBe(true);
  });

  it('let the migration Job reach MySQL', () => {
    const job = objectsOfKind<Workload>(objects, 'Job')[0];
    const mysql = { ...infrastructure, podLabels: { 'app.kubernetes.io/name': 'mysql' } };
    expect(allows(objects, 'Egress', job.spec.template.metadata?.labels ?? {}, mysql, 3306)).toBe(true);
  });
});

describe('infrastructure', () => {
  const deliveryMaxWait = (render: Render): number => {
    const configMap = objectsOfKind(render.objects, 'ConfigMap').find((c) =>
      c.metadata.name.startsWith('tasklane-config'),
    );
    const configured = (configMap?.data as Record<string, string> | undefined)?.DELIVERY_MAX_WAIT_MS;
    const perWorker = objectsOfKind<Workload>(render.objects, 'Deployment')
      .filter((deployment) => deployment.metadata.name.startsWith('worker-'))
      .map((deployment) =>
        Number(effectiveEnv(appContainer(deployment), render.objects).get('DELIVERY_MAX_WAIT_MS') ?? NaN),
      )
      .filter((value) => !Number.isNaN(value));
    return Math.max(
      Number(configured ?? declaredEnvVariables().get('DELIVERY_MAX_WAIT_MS')?.defaultValue),
      ...perWorker,
    );
  };

  it('dev: single-node RabbitMQ and MySQL StatefulSets with pinned images', () => {
    const objects = byLabel('k8s/overlays/dev').objects;
    const statefulSets = objectsOfKind<Workload>(objects, 'StatefulSet');
    expect(statefulSets.map((set) => set.metadata.name).sort()).toEqual(['mysql', 'rabbitmq']);
    expect(appContainer(statefulSets.find((s) => s.metadata.name === 'rabbitmq') as Workload).image).toMatch(
      /^rabbitmq:(3\.13|4\.\d+)\.\d+-management$/,
    );
    expect(appContainer(statefulSets.find((s) => s.metadata.name === 'mysql') as Workload).image).toMatch(
      /^mysql:8\.4\.\d+$/,
    );
    for (const name of ['rabbitmq', 'mysql']) {
      expect(findObject(objects, 'Service', name)).toBeDefined();
    }
  });

  it('dev: RabbitMQ consumer_timeout stays above the workers’ DELIVERY_MAX_WAIT_MS', () => {
    const render = byLabel('k8s/overlays/dev');
    const config = objectsOfKind(render.objects, 'ConfigMap').find((c) =>
      c.metadata.name.startsWith('rabbitmq-config'),
    );
    const timeout = rabbitmqConsumerTimeout(Object.values((config?.data as Record<string, string>) ?? {}).join('\n'));
    expect(timeout).toBeDefined();
    expect(timeout).toBeGreaterThan(deliveryMaxWait(render));
  });

  it('dev: the Secret holds every key the StatefulSets and apps read', () => {
    const example = parseEnvFile(readWorkspaceFile('k8s', 'overlays', 'dev', 'secrets.env.example'));
    for (const key of [
      'AMQP_URL',
      'DATABASE_URL',
      'RABBITMQ_DEFAULT_USER',
      'RABBITMQ_DEFAULT_PASS',
      'MYSQL_ROOT_PASSWORD',
    ]) {
      expect(example.has(key)).toBe(true);
    }
  });

  it('prod: a RabbitmqCluster and an InnoDBCluster in tasklane-data', () => {
    const objects = byLabel('k8s/overlays/prod/infrastructure').objects;
    const [rabbit] = objectsOfKind(objects, 'RabbitmqCluster');
    const [mysql] = objectsOfKind(objects, 'InnoDBCluster');
    expect(rabbit?.apiVersion).toBe('rabbitmq.com/v1beta1');
    expect(mysql?.apiVersion).toBe('mysql.oracle.com/v2');

    const rabbitSpec = rabbit.spec as { replicas: number; image: string; rabbitmq?: { additionalConfig?: string } };
    expect(rabbitSpec.replicas).toBeGreaterThanOrEqual(1);
    expect(rabbitSpec.image).toMatch(/^rabbitmq:(3\.13|4\.\d+)\.\d+-management$/);
    const timeout = rabbitmqConsumerTimeout(rabbitSpec.rabbitmq?.additionalConfig ?? '');
    expect(timeout).toBeGreaterThan(deliveryMaxWait(byLabel('k8s/overlays/prod')));

    const mysqlSpec = mysql.spec as {
      secretName: string;
      instances: number;
      version: string;
      router?: { instances: number };
    };
    expect(mysqlSpec.instances).toBeGreaterThanOrEqual(3);
    expect(mysqlSpec.version).toMatch(/^8\.4\.\d+$/);
    const rootSecret = findObject(objects, 'Secret', mysqlSpec.secretName);
    expect(Object.keys(secretData(rootSecret)).sort()).toEqual(['rootHost', 'rootPassword', 'rootUser']);
  });

  it('prod: the apps reach the infrastructure Services named in secrets.env.example', () => {
    const infra = byLabel('k8s/overlays/prod/infrastructure').objects;
    const example = parseEnvFile(readWorkspaceFile('k8s', 'overlays', 'prod', 'secrets.env.example'));
    const rabbitName = objectsOfKind(infra, 'RabbitmqCluster')[0].metadata.name;
    const mysqlName = objectsOfKind(infra, 'InnoDBCluster')[0].metadata.name;
    expect(new URL(example.get('AMQP_URL') ?? '').hostname).toBe(`${rabbitName}.tasklane-data.svc`);
    expect(new URL(example.get('DATABASE_URL') ?? '').hostname).toBe(`${mysqlName}.tasklane-data.svc`);
  });

  it('rate-limit the gateway everywhere, and behind the prod Ingress trust exactly its one proxy hop', () => {
    for (const label of ['k8s/overlays/dev', 'k8s/overlays/prod']) {
      const objects = byLabel(label).objects;
      const gateway = objectsOfKind<Workload>(objects, 'Deployment').find((d) => d.metadata.name === 'api-gateway');
      const env = effectiveEnv(appContainer(gateway as Workload), objects);
      expect({ label, limited: Number(env.get('RATE_LIMIT_MAX')) > 0 }).toEqual({ label, limited: true });
      expect({ label, hops: env.get('TRUST_PROXY_HOPS') }).toEqual({
        label,
        hops: label.endsWith('prod') ? '1' : '0',
      });
    }
  });

  it('prod: an Ingress for the gateway and images from a registry at a release tag', () => {
    const objects = byLabel('k8s/overlays/prod').objects;
    expect(objectsOfKind(objects, 'Ingress').map((ingress) => ingress.metadata.name)).toEqual(['api-gateway']);
    for (const workload of objects.filter(isWorkload)) {
      expect(appContainer(workload).image).toMatch(/^[a-z0-9.-]+\.[a-z]+(:\d+)?\/tasklane\/[a-z-]+:\d+\.\d+\.\d+/);
    }
  });
});

describe('secrets', () => {
  const k8s = workspacePath('k8s');
  const files = filesUnder(k8s).map((file) => relative(workspacePath(), file));

  it('are never committed as objects: every Secret comes from a secretGenerator', () => {
    const committed = files
      .filter((file) => /\.ya?ml$/.test(file))
      .filter((file) =>
        parseAllDocuments(readFileSync(workspacePath(file), 'utf8')).some(
          (document) => (document.toJS() as { kind?: string } | null)?.kind === 'Secret',
        ),
      );
    expect(committed).toEqual([]);
  });

  it('have a committed secrets.env.example beside every secretGenerator, the real file git-ignored', () => {
    const generatorDirs = files
      .filter((file) => file.endsWith('kustomization.yaml'))
      .filter((file) => /secretGenerator:/.test(readFileSync(workspacePath(file), 'utf8')))
      .map((file) => file.replace(/\/kustomization\.yaml$/, ''));
    expect(generatorDirs.length).toBeGreaterThanOrEqual(2);
    for (const dir of generatorDirs) {
      expect({ dir, example: existsSync(workspacePath(dir, 'secrets.env.example')) }).toEqual({ dir, example: true });
    }
    expect(readWorkspaceFile('.gitignore')).toMatch(/^k8s\/\*\*\/secrets\.env$/m);
    expect(readWorkspaceFile('k8s', '.gitignore')).toMatch(/^\*\.env$/m);
  });

  it('are referenced by key in the examples of every overlay', () => {
    for (const label of overlayLabels.filter((l) => !l.includes(' + '))) {
      const example = parseEnvFile(readWorkspaceFile(label, 'secrets.env.example'));
      for (const key of ['AMQP_URL', 'DATABASE_URL']) {
        expect({ label, key, present: example.has(key) }).toEqual({ label, key, present: true });
      }
      expect(example.get('AMQP_URL')).toMatch(/^amqps?:\/\/[^:]+:[^@]+@[^/]+\/\w+$/);
      expect(example.get('DATABASE_URL')).toMatch(/^mysql:\/\/[^:]+:[^@]+@[^/]+\/\w+$/);
      // KEDA's operator runs in its own namespace and reads AMQP_URL through the TriggerAuthentication.
      expect(new URL(example.get('AMQP_URL') ?? '').hostname).toMatch(/\.svc(\.cluster\.local)?$/);
    }
  });
});

describe('apps', () => {
  it.each(appRenderLabels)('%s has a Deployment per long-running app and the migration Job', (label) => {
    const objects = byLabel(label).objects;
    const deployments = objectsOfKind(objects, 'Deployment')
      .filter((deployment) => deployment.metadata.labels?.['app.kubernetes.io/part-of'] === 'tasklane')
      .map((deployment) => deployment.metadata.name)
      .sort();
    expect(deployments).toEqual(longRunningApps());
    expect(deployableApps()).toContain('db-migrator');
    expect(
      workerApps()
        .map((app) => app.replace(/^worker-/, ''))
        .sort(),
    ).toEqual(taskTypes());
  });
});

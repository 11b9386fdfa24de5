import { unpinnedReason } from './lib/images';
import {
  Container,
  KubeObject,
  PodSpec,
  Workload,
  describeObject,
  findObject,
  objectsOfKind,
  selects,
} from './lib/kustomize';
import { appContainer, effectiveEnv, preStopSeconds, quantity, resolvePort } from './lib/pods';
import { appRenders, renderAll, usesKeda } from './lib/renders';
import { EXTRA_ENV_VARIABLES, defaultShutdownGraceMs } from './lib/workspace';

/**
 * The rules every Tasklane workload follows, checked on each rendering of k8s/ (base, overlays,
 * overlays with components). A failure names the workload and the rule.
 */

const renders = appRenders(renderAll());

interface Case {
  render: string;
  workload: Workload;
  objects: KubeObject[];
  keda: boolean;
}

const deploymentCases: [string, Case][] = renders.flatMap((render) =>
  objectsOfKind<Workload>(render.objects, 'Deployment')
    .filter((deployment) => deployment.metadata.labels?.['app.kubernetes.io/part-of'] === 'tasklane')
    .map((workload): [string, Case] => [
      `${render.label}: ${describeObject(workload)}`,
      { render: render.label, workload, objects: render.objects, keda: usesKeda(render) },
    ]),
);

const podCases: [string, Case][] = [
  ...deploymentCases,
  ...renders.flatMap((render) =>
    objectsOfKind<Workload>(render.objects, 'Job').map((workload): [string, Case] => [
      `${render.label}: ${describeObject(workload)}`,
      { render: render.label, workload, objects: render.objects, keda: usesKeda(render) },
    ]),
  ),
];

/** Port of the HTTP server with /health/* and /metrics: PORT for the gateway, HEALTH_PORT otherwise. */
function healthPort(workload: Workload, objects: KubeObject[]): number {
  const env = effectiveEnv(appContainer(workload), objects);
  if (workload.metadata.name === 'api-gateway') {
    return Number(env.get('PORT') ?? 8000);
  }
  return Number(env.get('HEALTH_PORT') ?? EXTRA_ENV_VARIABLES.get('HEALTH_PORT'));
}

function securityProblems(pod: PodSpec, container: Container): string[] {
  const problems: string[] = [];
  const podContext = pod.securityContext ?? {};
  const context = container.securityContext ?? {};
  if (!(context.runAsNonRoot ?? podContext.runAsNonRoot)) {
    problems.push('runAsNonRoot is not true');
  }
  const user = context.runAsUser ?? podContext.runAsUser;
  if (typeof user !== 'number' || user <= 0) {
    problems.push(`runAsUser ${String(user)} is not a numeric non-root UID`);
  }
  if (context.allowPrivilegeEscalation !== false) {
    problems.push('allowPrivilegeEscalation is not false');
  }
  if (context.readOnlyRootFilesystem !== true) {
    problems.push('readOnlyRootFilesystem is not true');
  }
  if (context.privileged) {
    problems.push('privileged');
  }
  if (!(context.capabilities?.drop ?? []).includes('ALL')) {
    problems.push('capabilities do not drop ALL');
  }
  if ((context.capabilities?.add ?? []).length > 0) {
    problems.push(`adds capabilities ${context.capabilities?.add?.join(', ')}`);
  }
  if ((context.seccompProfile?.type ?? podContext.seccompProfile?.type) !== 'RuntimeDefault') {
    problems.push('seccompProfile is not RuntimeDefault');
  }
  return problems;
}

describe.each(podCases)('%s', (_name, { workload, objects }) => {
  const pod = workload.spec.template.spec;

  it('runs every container as a non-root user with a read-only root filesystem and no privileges', () => {
    const problems = [...pod.containers, ...(pod.initContainers ?? [])].flatMap((container) =>
      securityProblems(pod, container).map((problem) => `${container.name}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it('sets CPU and memory requests and limits (requests ≤ limits)', () => {
    const problems: string[] = [];
    for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
      for (const resource of ['cpu', 'memory'] as const) {
        const request = container.resources?.requests?.[resource];
        const limit = container.resources?.limits?.[resource];
        if (request === undefined || limit === undefined) {
          problems.push(`${container.name}: ${resource} request and limit must both be set`);
        } else if (quantity(request, resource) > quantity(limit, resource)) {
          problems.push(`${container.name}: ${resource} request ${request} exceeds limit ${limit}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('uses a pinned image (no :latest, no floating or missing tag)', () => {
    for (const container of pod.containers) {
      expect({ container: container.name, problem: unpinnedReason(container.image ?? '') }).toEqual({
        container: container.name,
        problem: undefined,
      });
    }
  });

  it('mounts a writable volume on /tmp and wherever the app writes (REPORTS_DIR, MAIL_OUTBOX_DIR)', () => {
    const container = appContainer(workload);
    const env = effectiveEnv(container, objects);
    const mounts = (container.volumeMounts ?? []).filter((mount) => !mount.readOnly).map((mount) => mount.mountPath);
    expect(mounts).toContain('/tmp');
    const writes = new Map([
      ['worker-report', env.get('REPORTS_DIR')],
      ['worker-email', env.get('MAIL_OUTBOX_DIR')],
    ]).get(workload.metadata.name);
    if (writes !== undefined) {
      expect(writes).toMatch(/^\//);
      expect(mounts).toContain(writes);
    }
  });

  it('mounts no service-account token (the apps never call the Kubernetes API)', () => {
    expect(pod.automountServiceAccountToken).toBe(false);
  });
});

describe.each(deploymentCases)('%s', (_name, { workload, objects, keda }) => {
  const pod = workload.spec.template.spec;
  const container = appContainer(workload);
  const name = workload.metadata.name;

  it('has liveness and readiness probes on /health/live and /health/ready of its health port', () => {
    const port = healthPort(workload, objects);
    expect(container.livenessProbe?.httpGet?.path).toBe('/health/live');
    expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
    expect(resolvePort(container, container.livenessProbe?.httpGet?.port)).toBe(port);
    expect(resolvePort(container, container.readinessProbe?.httpGet?.port)).toBe(port);
    // Only readiness may depend on RabbitMQ and MySQL: a broker outage must never restart pods.
    expect(container.livenessProbe?.httpGet?.path).not.toBe(container.readinessProbe?.httpGet?.path);
    // The metrics endpoint is scraped on the port named `http` (PodMonitor).
    expect(container.ports?.find((candidate) => candidate.name === 'http')?.containerPort).toBe(port);
  });

  it('gives SIGTERM more time than SHUTDOWN_GRACE_MS (plus any preStop delay)', () => {
    const env = effectiveEnv(container, objects);
    const graceMs = Number(env.get('SHUTDOWN_GRACE_MS') ?? defaultShutdownGraceMs());
    expect(Number.isInteger(graceMs)).toBe(true);
    const needed = graceMs / 1000 + preStopSeconds(container);
    expect(pod.terminationGracePeriodSeconds).toBeDefined();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(needed);
  });

  it('has a PodDisruptionBudget', () => {
    const budgets = objectsOfKind(objects, 'PodDisruptionBudget').filter((pdb) =>
      selects(
        (pdb.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels,
        workload.spec.template.metadata?.labels,
      ),
    );
    expect(budgets).toHaveLength(1);
  });

  if (name.startsWith('worker-')) {
    it(
      keda ? 'is scaled by a KEDA ScaledObject and sets no replicas itself' : 'runs a fixed number of replicas',
      () => {
        const scaledObjects = objectsOfKind(objects, 'ScaledObject').filter(
          (scaledObject) => (scaledObject.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === name,
        );
        if (keda) {
          expect(scaledObjects).toHaveLength(1);
          // A replica count in the manifest would be reset by every `kubectl apply`.
          expect(workload.spec.replicas).toBeUndefined();
        } else {
          expect(scaledObjects).toHaveLength(0);
          expect(workload.spec.replicas).toBeGreaterThanOrEqual(1);
        }
      },
    );
  }

  if (name === 'api-gateway') {
    it('is scaled on CPU by a HorizontalPodAutoscaler, served by a Service, sets no replicas itself', () => {
      const hpa = objectsOfKind(objects, 'HorizontalPodAutoscaler').find(
        (candidate) => (candidate.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === name,
      );
      const metrics = (hpa?.spec as { metrics?: { type: string; resource?: { name: string } }[] } | undefined)?.metrics;
      expect(metrics?.some((metric) => metric.type === 'Resource' && metric.resource?.name === 'cpu')).toBe(true);
      expect((hpa?.spec as { minReplicas?: number }).minReplicas).toBeGreaterThanOrEqual(1);
      expect(findObject(objects, 'Service', name)).toBeDefined();
      expect(workload.spec.replicas).toBeUndefined();
    });
  }

  if (name === 'status-tracker') {
    it('runs two replicas, rolled one at a time without a gap (every tracker duty is safe with several, ADR 0010)', () => {
      expect(workload.spec.replicas).toBe(2);
      expect(workload.spec.strategy?.type).toBe('RollingUpdate');
      expect(workload.spec.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
      expect(objectsOfKind(objects, 'ScaledObject').map((s) => s.metadata.name)).not.toContain(name);
      expect(objectsOfKind(objects, 'HorizontalPodAutoscaler').map((h) => h.metadata.name)).not.toContain(name);
    });
  }
});

import { Container, KubeObject, Workload, findObject } from './kustomize';

/** A value taken from a Secret: its content is never looked at. */
export const FROM_SECRET = '<secret>';

/**
 * The environment a container starts with, as far as the manifests define it: envFrom ConfigMaps,
 * then `env` (literal values, ConfigMap keys, and Secret keys as {@link FROM_SECRET}).
 */
export function effectiveEnv(container: Container, objects: KubeObject[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const configMap = findObject(objects, 'ConfigMap', source.configMapRef.name);
      for (const [key, value] of Object.entries((configMap?.data as Record<string, string> | undefined) ?? {})) {
        env.set(key, value);
      }
    }
    if (source.secretRef) {
      const secret = findObject(objects, 'Secret', source.secretRef.name);
      for (const key of Object.keys((secret?.data as Record<string, string> | undefined) ?? {})) {
        env.set(key, FROM_SECRET);
      }
    }
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      env.set(variable.name, variable.value);
    } else if (variable.valueFrom?.configMapKeyRef) {
      const { name, key } = variable.valueFrom.configMapKeyRef;
      const value = (findObject(objects, 'ConfigMap', name)?.data as Record<string, string> | undefined)?.[key];
      if (value !== undefined) {
        env.set(variable.name, value);
      }
    } else if (variable.valueFrom?.secretKeyRef) {
      env.set(variable.name, FROM_SECRET);
    }
  }
  return env;
}

/** The app container of a workload: the one named like the workload (or its only container). */
export function appContainer(workload: Workload): Container {
  const containers = workload.spec.template.spec.containers;
  return containers.find((container) => container.name === workload.metadata.name) ?? containers[0];
}

/** Seconds a preStop hook delays SIGTERM (`sleep N` exec hooks and the native sleep action). */
export function preStopSeconds(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (!preStop) {
    return 0;
  }
  if (preStop.sleep) {
    return preStop.sleep.seconds;
  }
  const command = preStop.exec?.command ?? [];
  const joined = command.join(' ');
  const match = /\bsleep\s+(\d+(?:\.\d+)?)\b/.exec(joined);
  if (match) {
    return Number(match[1]);
  }
  throw new Error(`cannot tell how long the preStop hook ${JSON.stringify(command)} takes`);
}

const CPU_UNITS: Record<string, number> = { m: 0.001, '': 1 };
const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes quantity (`250m`, `1`, `512Mi`, `1Gi`) as a number of cores or bytes. */
export function quantity(value: string | number, kind: 'cpu' | 'memory'): number {
  const text = String(value);
  const match = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/.exec(text);
  const units = kind === 'cpu' ? CPU_UNITS : MEMORY_UNITS;
  if (!match || units[match[2]] === undefined) {
    throw new Error(`not a ${kind} quantity: ${text}`);
  }
  return Number(match[1]) * units[match[2]];
}

/** The port number a probe or Service targets, resolving port names against the container. */
export function resolvePort(container: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') {
    return port;
  }
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

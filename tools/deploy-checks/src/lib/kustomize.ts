import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { workspacePath } from './workspace';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A rendered Kubernetes object; the rest of its fields are read through the typed views below. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface Probe {
  httpGet?: { path?: string; port?: number | string };
  tcpSocket?: { port?: number | string };
  exec?: { command?: string[] };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  initialDelaySeconds?: number;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type?: string };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  emptyDir?: Record<string, unknown>;
  persistentVolumeClaim?: { claimName: string };
  configMap?: { name: string };
  secret?: { secretName: string };
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    fsGroup?: number;
    seccompProfile?: { type?: string };
  };
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  restartPolicy?: string;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export interface Workload extends KubeObject {
  spec: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template: PodTemplate;
    strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
  };
}

export function isWorkload(object: KubeObject): object is Workload {
  return ['Deployment', 'StatefulSet', 'Job', 'DaemonSet'].includes(object.kind);
}

export const K8S_DIR = 'k8s';

/** Folders (relative to the repository root) with a kustomization of kind Kustomization (not Component). */
export function kustomizations(root = workspacePath(K8S_DIR)): string[] {
  const found: string[] = [];
  const visit = (dir: string): void => {
    const file = join(dir, 'kustomization.yaml');
    if (existsSync(file)) {
      const content = parse(readFileSync(file, 'utf8')) as { kind?: string } | null;
      if ((content?.kind ?? 'Kustomization') === 'Kustomization') {
        found.push(relative(dirname(root), dir));
      }
    }
    for (const name of readdirSync(dir)) {
      if (statSync(join(dir, name)).isDirectory()) {
        visit(join(dir, name));
      }
    }
  };
  visit(root);
  return found.sort();
}

/** Folders of kustomize Components under k8s/components. */
export function components(): string[] {
  const dir = workspacePath(K8S_DIR, 'components');
  if (!existsSync(dir)) {
    return [];
  }
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'kustomization.yaml')))
    .map((name) => `${K8S_DIR}/components/${name}`)
    .sort();
}

let kubectlChecked = false;

/** Fails with an actionable message when kubectl (with its built-in kustomize) is missing. */
export function requireKubectl(): void {
  if (kubectlChecked) {
    return;
  }
  const probe = spawnSync('kubectl', ['version', '--client', '--output=json'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'deploy-checks needs `kubectl` (v1.27 or newer, which includes kustomize) on PATH to render k8s/ ' +
        `offline with \`kubectl kustomize\`; it was not found or failed (${probe.error?.message ?? probe.stderr}). ` +
        'Install it from your distribution or https://kubernetes.io/docs/tasks/tools/.',
    );
  }
  kubectlChecked = true;
}

/**
 * A scratch copy of k8s/ in which every `secrets.env.example` is also present as `secrets.env`
 * (what the secretGenerators read), so that rendering never needs, reads or touches real
 * credentials in the working tree. Extra kustomizations can be added to the copy.
 */
export class K8sScratchCopy {
  readonly root: string;

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'tasklane-deploy-checks-'));
    cpSync(workspacePath(K8S_DIR), join(this.root, K8S_DIR), {
      recursive: true,
      // Real credentials of the working tree are never copied.
      filter: (source) => !/(^|[\\/])[^\\/]*\.env$/.test(source),
    });
    const visit = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
          visit(path);
        } else if (name.endsWith('.env.example')) {
          writeFileSync(path.slice(0, -'.example'.length), readFileSync(path));
        }
      }
    };
    visit(join(this.root, K8S_DIR));
  }

  /** Writes a kustomization.yaml at `relativeDir` (relative to the copy's root). */
  addKustomization(relativeDir: string, content: string): void {
    const dir = join(this.root, relativeDir);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'kustomization.yaml'), content);
  }

  render(relativeDir: string): KubeObject[] {
    requireKubectl();
    let output: string;
    try {
      output = execFileSync('kubectl', ['kustomize', join(this.root, relativeDir)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(`kubectl kustomize ${relativeDir} failed:\n${stderr}`);
    }
    return parseAllDocuments(output)
      .map((document) => {
        if (document.errors.length > 0) {
          throw new Error(`kubectl kustomize ${relativeDir}: ${document.errors.map((e) => e.message).join('; ')}`);
        }
        return document.toJS() as KubeObject | null;
      })
      .filter((object): object is KubeObject => object !== null);
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function describeObject(object: KubeObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

export function objectsOfKind<T extends KubeObject = KubeObject>(objects: KubeObject[], kind: string): T[] {
  return objects.filter((object) => object.kind === kind) as T[];
}

export function findObject(objects: KubeObject[], kind: string, name: string): KubeObject | undefined {
  return objects.find((object) => object.kind === kind && object.metadata.name === name);
}

/** Whether a label selector's matchLabels all hold for `labels`. */
export function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) {
    return false;
  }
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

import { join } from 'node:path';
import * as ts from 'typescript';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { KubeObject, describeObject } from './kustomize';

interface ValidatingModel {
  validate(): void;
}
type ModelClass = new (data: never) => ValidatingModel;

interface SchemaEntry {
  model: ModelClass;
  /** Module whose `I<Kind>` interface describes the object (for the unknown-field check). */
  typesModule: string;
}

function entry(model: ModelClass, apiVersion: string, kind: string): [string, SchemaEntry] {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const typesModule =
    group === 'keda.sh'
      ? `@kubernetes-models/keda/${apiVersion}/${kind}`
      : group === 'monitoring.coreos.com'
        ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
        : `kubernetes-models/${apiVersion}/${kind}`;
  return [`${apiVersion}/${kind}`, { model, typesModule }];
}

/**
 * The kinds Tasklane's manifests may contain, each with its OpenAPI-derived model
 * (kubernetes-models for Kubernetes itself, the KEDA and Prometheus Operator CRD models). A kind
 * not listed here fails the checks until it is added (or listed in STRUCTURAL_ONLY_KINDS).
 */
export const SCHEMAS: ReadonlyMap<string, SchemaEntry> = new Map([
  entry(Namespace, 'v1', 'Namespace'),
  entry(ServiceAccount, 'v1', 'ServiceAccount'),
  entry(ConfigMap, 'v1', 'ConfigMap'),
  entry(Secret, 'v1', 'Secret'),
  entry(Service, 'v1', 'Service'),
  entry(PersistentVolumeClaim, 'v1', 'PersistentVolumeClaim'),
  entry(Deployment, 'apps/v1', 'Deployment'),
  entry(StatefulSet, 'apps/v1', 'StatefulSet'),
  entry(Job, 'batch/v1', 'Job'),
  entry(PodDisruptionBudget, 'policy/v1', 'PodDisruptionBudget'),
  entry(HorizontalPodAutoscaler, 'autoscaling/v2', 'HorizontalPodAutoscaler'),
  entry(NetworkPolicy, 'networking.k8s.io/v1', 'NetworkPolicy'),
  entry(Ingress, 'networking.k8s.io/v1', 'Ingress'),
  entry(ScaledObject, 'keda.sh/v1alpha1', 'ScaledObject'),
  entry(TriggerAuthentication, 'keda.sh/v1alpha1', 'TriggerAuthentication'),
  entry(PodMonitor, 'monitoring.coreos.com/v1', 'PodMonitor'),
  entry(PrometheusRule, 'monitoring.coreos.com/v1', 'PrometheusRule'),
]);

/** Operator CRDs without a model package: only checked structurally (and by dedicated tests). */
export const STRUCTURAL_ONLY_KINDS: ReadonlySet<string> = new Set([
  'rabbitmq.com/v1beta1/RabbitmqCluster',
  'mysql.oracle.com/v2/InnoDBCluster',
]);

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Problems with the envelope every object needs: apiVersion, kind, a valid metadata.name, a body. */
export function structuralProblems(object: KubeObject): string[] {
  const problems: string[] = [];
  if (typeof object.apiVersion !== 'string' || object.apiVersion === '') {
    problems.push('apiVersion is missing');
  }
  if (typeof object.kind !== 'string' || object.kind === '') {
    problems.push('kind is missing');
  }
  const name = object.metadata?.name;
  if (typeof name !== 'string' || name === '') {
    problems.push('metadata.name is missing');
  } else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    problems.push(`metadata.name "${name}" is not a DNS-1123 subdomain`);
  }
  const hasBody = ['spec', 'data', 'stringData', 'rules', 'subjects', 'roleRef'].some(
    (field) => object[field] !== undefined,
  );
  if (!hasBody && !['Namespace', 'ServiceAccount'].includes(object.kind)) {
    problems.push('has no spec (or data)');
  }
  if (object.status !== undefined) {
    problems.push('sets status (written by controllers only)');
  }
  return problems;
}

/**
 * kustomize wraps long base64 values of generated Secrets over several lines; the API server's
 * decoder skips the line breaks, the JSON-schema `byte` format does not.
 */
function normalised(object: KubeObject): KubeObject {
  if (object.kind !== 'Secret' || !object.data) {
    return object;
  }
  const data = Object.fromEntries(
    Object.entries(object.data as Record<string, string>).map(([key, value]) => [key, value.replace(/\s+/g, '')]),
  );
  return { ...object, data };
}

/** Validates one object against its kind's schema; returns the problems (empty when valid). */
export function schemaProblems(object: KubeObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`;
  const problems = structuralProblems(object);
  const schema = SCHEMAS.get(key);
  if (schema) {
    try {
      new schema.model(normalised(object) as never).validate();
    } catch (error) {
      problems.push(...String((error as Error).message).split(', '));
    }
  } else if (!STRUCTURAL_ONLY_KINDS.has(key)) {
    problems.push(`no schema known for ${key}: add it to SCHEMAS or STRUCTURAL_ONLY_KINDS in k8s-schema.ts`);
  }
  return problems.map((problem) => `${describeObject(object)}: ${problem}`);
}

/**
 * Finds fields the API server would reject as unknown (`kubectl apply --validate=strict`), e.g. a
 * misspelt `readinesProbe`, which JSON-schema validation of kubernetes-models lets through (its
 * schemas allow additional properties). It walks each object alongside the model's TypeScript
 * interface, read with the TypeScript compiler from the packages' declaration files.
 */
export class UnknownFieldChecker {
  private readonly checker: ts.TypeChecker;
  private readonly rootTypes = new Map<string, ts.Type>();

  constructor(schemas: ReadonlyMap<string, SchemaEntry> = SCHEMAS) {
    const keys = [...schemas.keys()];
    // A virtual file beside this one: module resolution finds the workspace's node_modules.
    const fileName = join(__dirname, '__deploy_checks_models__.ts').replace(/\\/g, '/');
    const source = [
      ...keys.map(
        (key, index) =>
          `import type { I${key.split('/').pop()} as T${index} } from '${schemas.get(key)?.typesModule}';`,
      ),
      'export interface Models {',
      ...keys.map((key, index) => `  ${JSON.stringify(key)}: T${index};`),
      '}',
    ].join('\n');
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    };
    const host = ts.createCompilerHost(options, true);
    const readFile = host.readFile.bind(host);
    const getSourceFile = host.getSourceFile.bind(host);
    host.fileExists = (file) => file === fileName || ts.sys.fileExists(file);
    host.readFile = (file) => (file === fileName ? source : readFile(file));
    host.getSourceFile = (file, languageVersion, onError, shouldCreate) =>
      file === fileName
        ? ts.createSourceFile(file, source, languageVersion, true)
        : getSourceFile(file, languageVersion, onError, shouldCreate);
    const program = ts.createProgram([fileName], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    if (diagnostics.length > 0) {
      throw new Error(
        `cannot load the Kubernetes model types: ${ts.formatDiagnostics(diagnostics, {
          getCanonicalFileName: (file) => file,
          getCurrentDirectory: () => process.cwd(),
          getNewLine: () => '\n',
        })}`,
      );
    }
    this.checker = program.getTypeChecker();
    const sourceFile = program.getSourceFile(fileName) as ts.SourceFile;
    const models = sourceFile.statements.find(ts.isInterfaceDeclaration) as ts.InterfaceDeclaration;
    const modelsType = this.checker.getTypeAtLocation(models);
    for (const key of keys) {
      const property = modelsType.getProperty(key) as ts.Symbol;
      this.rootTypes.set(key, this.checker.getTypeOfSymbol(property));
    }
  }

  /** Paths of fields that the kind's API does not define (empty for kinds without a model). */
  unknownFields(object: KubeObject): string[] {
    const type = this.rootTypes.get(`${object.apiVersion}/${object.kind}`);
    if (!type) {
      return [];
    }
    const found: string[] = [];
    this.walk(object, type, '', found);
    return found.map((path) => `${describeObject(object)}: unknown field ${path}`);
  }

  private objectMembers(type: ts.Type): ts.Type[] {
    const nonNullable = this.checker.getNonNullableType(type);
    const members = nonNullable.isUnion() ? nonNullable.types : [nonNullable];
    return members.filter((member) => (member.flags & ts.TypeFlags.Object) !== 0);
  }

  private walk(value: unknown, type: ts.Type, path: string, found: string[]): void {
    if (value === null || typeof value !== 'object') {
      return;
    }
    const members = this.objectMembers(type);
    if (members.length === 0) {
      return;
    }
    if (Array.isArray(value)) {
      const arrayType = members.find((member) => this.checker.isArrayType(member));
      if (arrayType) {
        const [element] = this.checker.getTypeArguments(arrayType as ts.TypeReference);
        value.forEach((item, index) => this.walk(item, element, `${path}[${index}]`, found));
      }
      return;
    }
    const objectType = members.find((member) => !this.checker.isArrayType(member));
    if (!objectType) {
      return;
    }
    const indexInfo = this.checker.getIndexInfoOfType(objectType, ts.IndexKind.String);
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      const property = objectType.getProperty(key);
      if (property) {
        this.walk(child, this.checker.getTypeOfSymbol(property), childPath, found);
      } else if (indexInfo) {
        this.walk(child, indexInfo.type, childPath, found);
      } else if (this.checker.getPropertiesOfType(objectType).length > 0) {
        found.push(childPath);
      }
    }
  }
}

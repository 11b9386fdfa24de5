import { KubeObject, objectsOfKind } from './kustomize';

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface Rule {
  ports?: { protocol?: string; port?: number | string; endPort?: number }[];
  from?: Peer[];
  to?: Peer[];
}

interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: Rule[];
  egress?: Rule[];
}

export interface Endpoint {
  /** Labels of the pod at the other end (omitted: a pod we know nothing about). */
  podLabels?: Record<string, string>;
  /** Labels of its namespace (omitted: outside the cluster, only ipBlock peers match). */
  namespaceLabels?: Record<string, string>;
  /** Whether the peer is in the policy's own namespace. */
  sameNamespace?: boolean;
}

function matchesSelector(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) {
    return true;
  }
  const matchLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels?.[key] === value);
  const matchExpressions = (selector.matchExpressions ?? []).every((expression) => {
    const value = labels?.[expression.key];
    switch (expression.operator) {
      case 'In':
        return value !== undefined && (expression.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(expression.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        return false;
    }
  });
  return matchLabels && matchExpressions;
}

function policyTypes(spec: NetworkPolicySpec): string[] {
  if (spec.policyTypes) {
    return spec.policyTypes;
  }
  return spec.egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

function peerMatches(peer: Peer, endpoint: Endpoint): boolean {
  if (peer.ipBlock) {
    // Only "anywhere" blocks are modelled: they also cover pods.
    return peer.ipBlock.cidr === '0.0.0.0/0' && (peer.ipBlock.except ?? []).length === 0;
  }
  if (peer.namespaceSelector) {
    if (!endpoint.namespaceLabels || !matchesSelector(peer.namespaceSelector, endpoint.namespaceLabels)) {
      return false;
    }
    return peer.podSelector
      ? endpoint.podLabels !== undefined && matchesSelector(peer.podSelector, endpoint.podLabels)
      : true;
  }
  if (peer.podSelector) {
    return (
      endpoint.sameNamespace === true &&
      endpoint.podLabels !== undefined &&
      matchesSelector(peer.podSelector, endpoint.podLabels)
    );
  }
  return false;
}

function ruleAllows(
  rule: Rule,
  peers: Peer[] | undefined,
  endpoint: Endpoint,
  port: number,
  protocol: string,
): boolean {
  const portOk =
    rule.ports === undefined ||
    rule.ports.length === 0 ||
    rule.ports.some((candidate) => {
      if ((candidate.protocol ?? 'TCP') !== protocol) {
        return false;
      }
      if (candidate.port === undefined) {
        return true;
      }
      if (typeof candidate.port === 'string') {
        return false; // named ports are not used by Tasklane's policies
      }
      return candidate.endPort ? port >= candidate.port && port <= candidate.endPort : port === candidate.port;
    });
  const peerOk = peers === undefined || peers.length === 0 || peers.some((peer) => peerMatches(peer, endpoint));
  return portOk && peerOk;
}

/**
 * Whether the namespace's NetworkPolicies let a pod with `podLabels` open a connection to
 * `endpoint` on `port` (direction `Egress`), or accept one from it (`Ingress`).
 */
export function allows(
  objects: KubeObject[],
  direction: 'Ingress' | 'Egress',
  podLabels: Record<string, string>,
  endpoint: Endpoint,
  port: number,
  protocol: 'TCP' | 'UDP' = 'TCP',
): boolean {
  const policies = objectsOfKind(objects, 'NetworkPolicy')
    .map((policy) => policy.spec as NetworkPolicySpec)
    .filter((spec) => matchesSelector(spec.podSelector, podLabels) && policyTypes(spec).includes(direction));
  if (policies.length === 0) {
    return true; // not isolated in that direction
  }
  return policies.some((spec) =>
    (direction === 'Egress' ? (spec.egress ?? []) : (spec.ingress ?? [])).some((rule) =>
      ruleAllows(rule, direction === 'Egress' ? rule.to : rule.from, endpoint, port, protocol),
    ),
  );
}

/** A policy selecting every pod for both directions without any rule: deny all by default. */
export function hasDefaultDenyAll(objects: KubeObject[]): boolean {
  return objectsOfKind(objects, 'NetworkPolicy').some((policy) => {
    const spec = policy.spec as NetworkPolicySpec;
    const selectsAll =
      Object.keys(spec.podSelector?.matchLabels ?? {}).length === 0 &&
      (spec.podSelector?.matchExpressions ?? []).length === 0;
    const types = policyTypes(spec);
    return (
      selectsAll &&
      types.includes('Ingress') &&
      types.includes('Egress') &&
      (spec.ingress ?? []).length === 0 &&
      (spec.egress ?? []).length === 0
    );
  });
}

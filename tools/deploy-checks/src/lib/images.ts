export interface ImageReference {
  /** Registry and repository, e.g. `registry.example.com/tasklane/api-gateway` or `node`. */
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

export function parseImageReference(reference: string): ImageReference {
  const [withoutDigest, digest] = reference.split('@', 2);
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  const hasTag = lastColon > lastSlash;
  return {
    name: hasTag ? withoutDigest.slice(0, lastColon) : withoutDigest,
    tag: hasTag ? withoutDigest.slice(lastColon + 1) : undefined,
    digest,
  };
}

/** A release tag names one exact version: `1.2.3`, `20.20.2-bookworm-slim`, `3.13.7-management`. */
const EXACT_VERSION_TAG = /^v?\d+\.\d+\.\d+([-.+][A-Za-z0-9.-]+)?$/;

/**
 * Why an image reference is not pinned to an exact release, or undefined when it is: it needs a
 * tag with a full major.minor.patch version (never `latest`, never a floating `20` or `3.13`);
 * a digest may accompany it.
 */
export function unpinnedReason(reference: string): string | undefined {
  if (/\$\{?[A-Za-z_]/.test(reference)) {
    return `${reference} still contains a variable`;
  }
  const { tag, digest } = parseImageReference(reference);
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
    return `${reference} has a malformed digest`;
  }
  if (tag === undefined) {
    return `${reference} has no tag (means :latest)`;
  }
  if (tag === 'latest') {
    return `${reference} uses :latest`;
  }
  if (!EXACT_VERSION_TAG.test(tag)) {
    return `${reference} has tag "${tag}", not an exact major.minor.patch version`;
  }
  return undefined;
}

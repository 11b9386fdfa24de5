import { createHash, timingSafeEqual } from 'node:crypto';

/** What a key may do: read-only keys call GET endpoints, read-write keys every endpoint. */
export enum ApiAccess {
  ReadOnly = 'read-only',
  ReadWrite = 'read-write',
}

export const API_KEY_MIN_LENGTH = 16;
export const API_KEY_MAX_LENGTH = 512;

/**
 * An API key: 16–512 characters of the `b64token` alphabet of RFC 6750 (what may follow
 * `Bearer `): letters, digits, `- . _ ~ + /`, and `=` padding at the end. `openssl rand -hex 32`
 * and `openssl rand -base64 32` both fit.
 */
export const API_KEY_PATTERN = new RegExp(
  `^(?=.{${API_KEY_MIN_LENGTH},${API_KEY_MAX_LENGTH}}$)[A-Za-z0-9\\-._~+/]+=*$`,
);

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** What a configured key grants, and a name for it that is not the key. */
export interface ApiKeyMatch {
  access: ApiAccess;
  /** Hex SHA-256 of the key: identifies the caller (e.g. its rate-limit budget), never logged as the key. */
  id: string;
}

interface Entry extends ApiKeyMatch {
  digest: Buffer;
}

function entry(value: Buffer, access: ApiAccess): Entry {
  return { digest: value, access, id: value.toString('hex') };
}

/**
 * The configured keys, kept only as SHA-256 digests. {@link lookup} compares the digest of a
 * candidate with every configured digest using `crypto.timingSafeEqual` and never stops early, so
 * the time it takes depends neither on which key matched nor on how much of a key was right
 * (digests are of equal length whatever the candidate's length).
 */
export class ApiKeyRing {
  private readonly entries: readonly Entry[];
  readonly readWriteCount: number;
  readonly readOnlyCount: number;

  /** @param compare the digest comparison (`crypto.timingSafeEqual`; replaceable for tests). */
  constructor(
    readWrite: readonly string[],
    readOnly: readonly string[],
    private readonly compare: (a: Buffer, b: Buffer) => boolean = timingSafeEqual,
  ) {
    const readWriteDigests = readWrite.map(digest);
    const readOnlyDigests = readOnly.map(digest);
    for (const candidate of readOnlyDigests) {
      if (readWriteDigests.some((known) => known.equals(candidate))) {
        throw new Error('An API key is configured both as read-write and as read-only');
      }
    }
    this.entries = [
      ...readWriteDigests.map((value) => entry(value, ApiAccess.ReadWrite)),
      ...readOnlyDigests.map((value) => entry(value, ApiAccess.ReadOnly)),
    ];
    this.readWriteCount = new Set(readWrite).size;
    this.readOnlyCount = new Set(readOnly).size;
  }

  /** Whether any key is configured; without one the API is open. */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** What a presented key grants, or undefined when it is not a configured key. */
  lookup(candidate: string): ApiKeyMatch | undefined {
    const presented = digest(candidate);
    let found: Entry | undefined;
    for (const entry of this.entries) {
      // No early exit: every configured key is compared, whatever matched before.
      const matches = this.compare(presented, entry.digest);
      if (matches && found === undefined) {
        found = entry;
      }
    }
    return found === undefined ? undefined : { access: found.access, id: found.id };
  }
}

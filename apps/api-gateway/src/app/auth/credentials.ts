import type { IncomingHttpHeaders } from 'node:http';

/** What a request presents as its API key. */
export type PresentedCredential =
  | { kind: 'none' }
  | { kind: 'malformed'; reason: string }
  | { kind: 'key'; key: string };

const BEARER = /^Bearer +([^\s,]+) *$/i;

/**
 * The API key of a request, from `Authorization: Bearer <key>` or `X-API-Key: <key>` (either;
 * both only when they carry the same key). The scheme name is case-insensitive (RFC 9110).
 */
export function presentedCredential(headers: IncomingHttpHeaders): PresentedCredential {
  const authorization = headers.authorization;
  const apiKeyHeader = headers['x-api-key'];
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (!match) {
      return {
        kind: 'malformed',
        reason: 'The Authorization header must be "Bearer <API key>"',
      };
    }
    bearer = match[1];
  }
  let apiKey: string | undefined;
  if (apiKeyHeader !== undefined) {
    // Node joins repeated unknown headers with ", "; an array only comes from a hand-made request.
    apiKey = (Array.isArray(apiKeyHeader) ? apiKeyHeader.join(', ') : apiKeyHeader).trim();
    if (apiKey === '') {
      return { kind: 'malformed', reason: 'The X-API-Key header is empty' };
    }
  }
  if (bearer !== undefined && apiKey !== undefined && bearer !== apiKey) {
    return {
      kind: 'malformed',
      reason: 'Authorization and X-API-Key carry different keys; send one of them',
    };
  }
  const key = bearer ?? apiKey;
  return key === undefined ? { kind: 'none' } : { kind: 'key', key };
}

/** Methods that only read: a read-only key may call them. Everything else needs read-write. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isReadMethod(method: string): boolean {
  return READ_METHODS.has(method.toUpperCase());
}

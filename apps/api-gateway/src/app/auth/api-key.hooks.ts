import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { closeIfBodyUnread } from '../http/unread-body';
import { ApiAccess, ApiKeyRing } from './api-keys';
import { isReadMethod, presentedCredential } from './credentials';
import { isPublicRoute } from './public-route';

export const WWW_AUTHENTICATE = 'Bearer realm="tasklane"';
export const WWW_AUTHENTICATE_INVALID = 'Bearer realm="tasklane", error="invalid_token"';
const KEY_REQUIRED = 'Authentication required: send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>"';

/** Who is calling, as the authentication hook found it from the headers alone. */
export type ApiCaller =
  /** A public route, or no keys configured (the API is open): nobody is asked for a key. */
  | { kind: 'open' }
  /** A valid key; `keyId` is its digest (never the key). */
  | { kind: 'key'; access: ApiAccess; keyId: string }
  /** No valid key where one is needed: the answer is a 401 with this challenge and message. */
  | { kind: 'refused'; challenge: string; message: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook, before any body is read; null before it ran. */
    apiCaller: ApiCaller | null;
  }
}

const OPEN: ApiCaller = { kind: 'open' };

/** Authenticates a request by its headers: once per request, before its body is read. */
export function authenticate(ring: ApiKeyRing, request: Pick<FastifyRequest, 'headers' | 'routeOptions'>): ApiCaller {
  if (!ring.enabled || isPublicRoute(request)) {
    return OPEN;
  }
  const credential = presentedCredential(request.headers);
  if (credential.kind === 'none') {
    return { kind: 'refused', challenge: WWW_AUTHENTICATE, message: KEY_REQUIRED };
  }
  if (credential.kind === 'malformed') {
    return { kind: 'refused', challenge: WWW_AUTHENTICATE_INVALID, message: credential.reason };
  }
  const match = ring.lookup(credential.key);
  if (match === undefined) {
    return { kind: 'refused', challenge: WWW_AUTHENTICATE_INVALID, message: 'Invalid API key' };
  }
  return { kind: 'key', access: match.access, keyId: match.id };
}

/**
 * Refuses a request its caller may not make: 401 (with `WWW-Authenticate: Bearer`) without a
 * valid key, 403 for a read-only key on a method that writes (anything but GET/HEAD/OPTIONS).
 * Throws Nest exceptions, which the errors filter answers as JSON; a body not read yet is not
 * read at all (`Connection: close`).
 */
export function authorize(
  caller: ApiCaller | null,
  request: Pick<FastifyRequest, 'headers' | 'method' | 'url' | 'routeOptions'>,
  reply: Pick<FastifyReply, 'header' | 'raw'>,
): void {
  if (caller === null || caller.kind === 'open') {
    return;
  }
  if (caller.kind === 'refused') {
    closeIfBodyUnread(request, reply);
    void reply.header('www-authenticate', caller.challenge);
    throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message: caller.message });
  }
  if (caller.access !== ApiAccess.ReadWrite && !isReadMethod(request.method)) {
    closeIfBodyUnread(request, reply);
    const route = request.routeOptions.url ?? request.url.split('?')[0];
    throw new ForbiddenException({
      statusCode: 403,
      error: 'Forbidden',
      message: `This API key is read-only; ${request.method} ${route} needs a read-write key`,
    });
  }
}

/**
 * The first half of API-key authentication, an `onRequest` hook: who the caller is
 * (`request.apiCaller`), from the headers, before Fastify reads any body. Hooks added after it
 * (the rate limit) may use it; {@link addAuthorizationHook} then refuses what must be refused.
 * Keys and headers are never logged.
 */
export function addAuthenticationHook(fastify: FastifyInstance, ring: ApiKeyRing): void {
  fastify.decorateRequest('apiCaller', null);
  fastify.addHook('onRequest', (request, _reply, done) => {
    request.apiCaller = authenticate(ring, request);
    done();
  });
}

/** The second half: an `onRequest` hook answering 401/403 (see {@link authorize}). */
export function addAuthorizationHook(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', async (request, reply) => {
    authorize(request.apiCaller, request, reply);
  });
}

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The API's JSON reads (not the docs, metrics or dashboard files, which have their own caching). */
const API_PREFIX = '/api/';

/** A weak validator of a body: equal bodies, equal tags. */
export function etagOf(body: string | Buffer): string {
  return `W/"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** Whether an `If-None-Match` header names `etag` (or is `*`), per RFC 9110's weak comparison. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) {
    return false;
  }
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}

/**
 * Conditional GETs of the API (how the dashboard polls, ADR 0011): a 200 JSON answer carries a
 * weak `ETag` of its body and `Cache-Control: private, no-cache`; a request whose
 * `If-None-Match` names it gets 304 with no body. The server still builds the answer (it has to
 * know whether it changed); what a poll saves is the body on the wire and the client's work.
 */
export function addEtagHook(fastify: FastifyInstance): void {
  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (
      (request.method !== 'GET' && request.method !== 'HEAD') ||
      reply.statusCode !== 200 ||
      !request.url.startsWith(API_PREFIX) ||
      request.url.startsWith('/api/docs') ||
      (typeof payload !== 'string' && !Buffer.isBuffer(payload))
    ) {
      return payload;
    }
    const etag = etagOf(payload);
    void reply.header('etag', etag);
    void reply.header('cache-control', 'private, no-cache');
    void reply.header('vary', 'Authorization, X-API-Key');
    if (matchesEtag(request.headers['if-none-match'], etag)) {
      void reply.code(304);
      reply.removeHeader('content-length');
      return '';
    }
    return payload;
  });
}

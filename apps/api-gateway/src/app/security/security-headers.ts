import cors, { FastifyCorsOptions } from '@fastify/cors';
import helmet, { FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayEnv } from '../gateway.env';

/**
 * Content-Security-Policy of every response: only this origin's scripts, no inline scripts, no
 * plugins, no framing. Swagger UI at /api/docs works with it: its scripts and stylesheet come
 * from /api/docs/, its images are data: URIs, and it needs inline styles (its page has a
 * `<style>` block and its components set style attributes).
 */
export const CONTENT_SECURITY_POLICY_DIRECTIVES = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
} as const;

/** Helmet's headers (HSTS, nosniff, no-referrer, cross-origin policies…) with the policy above. */
export const HELMET_OPTIONS: FastifyHelmetOptions = {
  // No `upgrade-insecure-requests`: it would send the docs' assets to https on a plain-HTTP port.
  contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY_DIRECTIVES },
  frameguard: { action: 'deny' },
};

/** What a browser page on an allowed origin may send and read. Keys travel in headers, not cookies. */
const CORS_POLICY = {
  methods: ['GET', 'HEAD', 'POST'],
  allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'X-Request-Id'],
  exposedHeaders: ['X-Request-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
  credentials: false,
  maxAge: 600,
} as const satisfies FastifyCorsOptions;

/**
 * The CORS options for a request: the policy above, for its `Origin` when that is exactly one of
 * the allowed origins; `origin: false` otherwise (no Access-Control-* header, and a preflight is
 * not answered specially).
 */
export function corsOptionsFor(
  allowedOrigins: readonly string[],
  request: Pick<FastifyRequest, 'headers'>,
): FastifyCorsOptions {
  const origin = request.headers.origin;
  const allowed = origin !== undefined && allowedOrigins.includes(origin);
  return { ...CORS_POLICY, methods: [...CORS_POLICY.methods], origin: allowed ? origin : false };
}

/**
 * Security headers on every response (`@fastify/helmet`), and CORS for the origins in
 * CORS_ORIGINS only (`@fastify/cors`; nothing at all when it is unset). Both are `onRequest`
 * hooks added before authentication: a 401 carries them, and an allowed preflight is answered
 * without a key.
 */
export async function addSecurityHeaders(
  fastify: FastifyInstance,
  env: Pick<GatewayEnv, 'CORS_ORIGINS'>,
): Promise<void> {
  await fastify.register(helmet, HELMET_OPTIONS);
  if (env.CORS_ORIGINS.length > 0) {
    await fastify.register(cors, {
      delegator: (request, callback) => callback(null, corsOptionsFor(env.CORS_ORIGINS, request)),
    });
  }
}

import fastifyStatic from '@fastify/static';
import { Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { markedPublic } from '../auth/public-route';

/** Where the dashboard is served: `/ui/` (its page asks for an API key; the API enforces it). */
export const DASHBOARD_PATH = '/ui';

/**
 * The built dashboard (`npm run build` writes dist/apps/dashboard): `DASHBOARD_DIR`, or beside
 * the gateway's own bundle (dist/apps/api-gateway → dist/apps/dashboard; the image copies both).
 */
export function dashboardDir(configured: string | undefined): string {
  return resolve(configured ?? join(__dirname, '..', 'dashboard'));
}

/** Whether a route belongs to the dashboard's files. */
export function isDashboardPath(url: string): boolean {
  return url === DASHBOARD_PATH || url.startsWith(`${DASHBOARD_PATH}/`);
}

/**
 * Serves the dashboard's files under /ui/, open to every caller (they are the same for everyone;
 * the data they fetch needs a key). Without a build, /ui answers 503 saying how to build it, and
 * the API is unaffected.
 */
export async function serveDashboard(fastify: FastifyInstance, dir: string): Promise<void> {
  fastify.addHook('onRoute', (route) => {
    if (isDashboardPath(route.url)) {
      route.config = markedPublic(route.config);
    }
  });
  if (!existsSync(join(dir, 'index.html'))) {
    new Logger('Dashboard').warn({ message: 'dashboard not built: /ui answers 503', dir });
    const notBuilt = {
      statusCode: 503,
      error: 'Service Unavailable',
      message: `The dashboard is not built (no ${join(dir, 'index.html')}): run \`npm run build\``,
    };
    // /ui and /ui/ are one route (the router ignores a trailing slash).
    for (const url of [`${DASHBOARD_PATH}/`, `${DASHBOARD_PATH}/*`]) {
      fastify.get(url, (_request, reply) => reply.code(503).send(notBuilt));
    }
    return;
  }
  // The page itself at /ui/ (and /ui: the router ignores a trailing slash; its assets are absolute
  // /ui/… URLs). Read on each load, so a new build is served at once.
  fastify.get(`${DASHBOARD_PATH}/`, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(await readFile(join(dir, 'index.html'))),
  );
  await fastify.register(fastifyStatic, {
    root: dir,
    prefix: `${DASHBOARD_PATH}/`,
    // Swagger UI registered @fastify/static first.
    decorateReply: false,
    index: false,
    redirect: false,
    // Revalidated on every load (ETag): a new build is picked up at once.
    cacheControl: true,
    maxAge: 0,
    wildcard: true,
  });
}

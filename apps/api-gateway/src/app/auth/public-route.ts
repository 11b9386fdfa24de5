import type { FastifyContextConfig, FastifyRequest } from 'fastify';

/**
 * Key of the Fastify route config that marks a route as open to every caller, API keys or not:
 * no key is asked for and no rate limit applies. The one rule of what is public; set by
 * {@link Public} on controllers and handlers, and by the API docs on their own routes.
 */
export const PUBLIC_ROUTE = 'tasklanePublic';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on public routes ({@link PUBLIC_ROUTE}). */
    tasklanePublic?: true;
  }
}

/** A route config with the public mark (any other settings kept). */
export function markedPublic<T extends object>(config: T | undefined): T & FastifyContextConfig {
  return { ...config, [PUBLIC_ROUTE]: true } as T & FastifyContextConfig;
}

/** Whether the route a request matched is public. Unknown routes (404) are not. */
export function isPublicRoute(request: Pick<FastifyRequest, 'routeOptions'>): boolean {
  return request.routeOptions.config?.[PUBLIC_ROUTE] === true;
}

import { ApiExtension } from '@nestjs/swagger';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { markedPublic } from './public-route';

/** OpenAPI extension marking public operations; the document builder turns it into `security: []`. */
export const PUBLIC_OPERATION_EXTENSION = 'x-tasklane-public';

/** Adds the public mark to the Fastify route config of a handler (kept with any other config). */
function markHandlerPublic(handler: object): void {
  const config = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as Record<string, unknown> | undefined;
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, markedPublic(config), handler);
}

/**
 * Marks a controller or a handler as open to every caller, API keys or not, and without a rate
 * limit (health probes, metrics). Everything else needs a key once keys are configured. The mark
 * goes into the Fastify route config of each handler (NestJS passes it on when it registers the
 * route), where the gateway's `onRequest` hooks read it before any body is read.
 */
export const Public =
  (): ClassDecorator & MethodDecorator =>
  (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor): void => {
    if (descriptor !== undefined && propertyKey !== undefined) {
      markHandlerPublic(descriptor.value as object);
      ApiExtension(PUBLIC_OPERATION_EXTENSION, true)(target, propertyKey, descriptor);
      return;
    }
    const prototype = (target as { prototype: object }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const method = Object.getOwnPropertyDescriptor(prototype, name)?.value as unknown;
      if (name !== 'constructor' && typeof method === 'function') {
        markHandlerPublic(method);
      }
    }
    ApiExtension(PUBLIC_OPERATION_EXTENSION, true)(target as () => void);
  };

import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiAccess, ApiKeyRing } from './api-keys';
import { isReadMethod, presentedCredential } from './credentials';
import { IS_PUBLIC } from './public.decorator';

export const WWW_AUTHENTICATE = 'Bearer realm="tasklane"';
export const WWW_AUTHENTICATE_INVALID = 'Bearer realm="tasklane", error="invalid_token"';

const KEY_REQUIRED = 'Authentication required: send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>"';

/**
 * Global guard: once API keys are configured, every route that is not {@link Public} needs a
 * valid key — 401 (with `WWW-Authenticate: Bearer`) without one, 403 for a read-only key on a
 * method that writes (anything but GET/HEAD/OPTIONS). Without configured keys it lets everything
 * through (the gateway warns loudly at start-up). Keys and headers are never logged.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(ApiKeyRing) private readonly keys: ApiKeyRing,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || !this.keys.enabled) {
      return true;
    }
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) {
      return true;
    }
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const credential = presentedCredential(request.headers);
    if (credential.kind === 'none') {
      void reply.header('www-authenticate', WWW_AUTHENTICATE);
      throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message: KEY_REQUIRED });
    }
    if (credential.kind === 'malformed') {
      void reply.header('www-authenticate', WWW_AUTHENTICATE_INVALID);
      throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message: credential.reason });
    }
    const access = this.keys.lookup(credential.key);
    if (access === undefined) {
      void reply.header('www-authenticate', WWW_AUTHENTICATE_INVALID);
      throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message: 'Invalid API key' });
    }
    if (access !== ApiAccess.ReadWrite && !isReadMethod(request.method)) {
      const route = request.routeOptions.url ?? request.url.split('?')[0];
      throw new ForbiddenException({
        statusCode: 403,
        error: 'Forbidden',
        message: `This API key is read-only; ${request.method} ${route} needs a read-write key`,
      });
    }
    return true;
  }
}

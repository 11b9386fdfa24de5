import 'reflect-metadata';
import { Controller, ForbiddenException, Get, HttpException, UnauthorizedException } from '@nestjs/common';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { ApiAccess, ApiKeyRing } from './api-keys';
import { WWW_AUTHENTICATE, WWW_AUTHENTICATE_INVALID, authenticate, authorize } from './api-key.hooks';
import { PUBLIC_ROUTE } from './public-route';
import { Public } from './public.decorator';

const RW = 'rw-key-0123456789abcdef';
const RO = 'ro-key-0123456789abcdef';

@Controller()
class PrivateController {
  @Get()
  handler(): void {
    return undefined;
  }

  @Public()
  @Get('open')
  openHandler(): void {
    return undefined;
  }
}

@Public()
@Controller()
class PublicController {
  @Get()
  handler(): void {
    return undefined;
  }

  @Get('other')
  other(): void {
    return undefined;
  }
}

interface Call {
  method?: string;
  headers?: Record<string, string>;
  /** The Fastify route config of the matched route (what @Public() sets). */
  config?: Record<string, unknown>;
}

/** The outcome of both hooks on one request, as the client would see it. */
function outcome(ring: ApiKeyRing, call: Call): { status: number; message?: string; header?: string; close?: string } {
  const replyHeaders: Record<string, string> = {};
  const request = {
    method: call.method ?? 'GET',
    headers: call.headers ?? {},
    url: '/api/tasks/x/cancel?y=1',
    routeOptions: { url: '/api/tasks/:task_id/cancel', config: call.config ?? {} },
  };
  const reply = {
    header(name: string, value: string) {
      replyHeaders[name] = value;
      return reply;
    },
    raw: { socket: null },
  };
  try {
    authorize(authenticate(ring, request as never), request as never, reply as never);
    return { status: 200 };
  } catch (error) {
    expect(error).toBeInstanceOf(HttpException);
    const response = (error as HttpException).getResponse() as { message: string };
    return {
      status: (error as HttpException).getStatus(),
      message: response.message,
      header: replyHeaders['www-authenticate'],
      close: replyHeaders['connection'],
    };
  }
}

function routeConfigOf(handler: unknown): Record<string, unknown> | undefined {
  return Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler as object) as Record<string, unknown> | undefined;
}

describe('API-key hooks', () => {
  const ring = new ApiKeyRing([RW], [RO]);

  describe('with keys configured', () => {
    const cases: Array<[string, string, Record<string, string>, number]> = [
      ['GET', 'no key', {}, 401],
      ['POST', 'no key', {}, 401],
      ['GET', 'an unknown key', { authorization: `Bearer ${RW}x` }, 401],
      ['GET', 'a malformed Authorization', { authorization: `Token ${RW}` }, 401],
      ['GET', 'the read-only key', { authorization: `Bearer ${RO}` }, 200],
      ['HEAD', 'the read-only key', { 'x-api-key': RO }, 200],
      ['POST', 'the read-only key', { authorization: `Bearer ${RO}` }, 403],
      ['DELETE', 'the read-only key in X-API-Key', { 'x-api-key': RO }, 403],
      ['GET', 'the read-write key', { authorization: `Bearer ${RW}` }, 200],
      ['POST', 'the read-write key', { authorization: `Bearer ${RW}` }, 200],
      ['POST', 'the read-write key in X-API-Key', { 'x-api-key': RW }, 200],
    ];

    it.each(cases)('%s with %s → %d', (method, _case, headers, status) => {
      expect(outcome(ring, { method, headers }).status).toBe(status);
    });

    it('answers 401 without a key with WWW-Authenticate: Bearer and a message saying how', () => {
      expect(outcome(ring, {})).toEqual({
        status: 401,
        header: WWW_AUTHENTICATE,
        message: expect.stringMatching(/Authorization: Bearer <key>.*X-API-Key: <key>/),
      });
    });

    it('answers 401 to a wrong key with error="invalid_token", never echoing it', () => {
      const result = outcome(ring, { headers: { 'x-api-key': 'wrong-key-0123456789' } });
      expect(result).toEqual({ status: 401, header: WWW_AUTHENTICATE_INVALID, message: 'Invalid API key' });
    });

    it('answers 403 to a read-only key on a write, naming the route (not the key)', () => {
      const result = outcome(ring, { method: 'POST', headers: { authorization: `Bearer ${RO}` } });
      expect(result.status).toBe(403);
      expect(result.message).toBe('This API key is read-only; POST /api/tasks/:task_id/cancel needs a read-write key');
      expect(result.header).toBeUndefined();
    });

    it('closes the connection of a refused request that announced a body, so the body is never read', () => {
      expect(outcome(ring, { method: 'POST', headers: { 'content-length': '4194304' } })).toMatchObject({
        status: 401,
        close: 'close',
      });
      expect(
        outcome(ring, { method: 'POST', headers: { 'transfer-encoding': 'chunked', 'x-api-key': RO } }),
      ).toMatchObject({ status: 403, close: 'close' });
      expect(outcome(ring, { method: 'GET' }).close).toBeUndefined();
    });

    it('names the caller by the digest of its key, never by the key', () => {
      const caller = authenticate(ring, { headers: { 'x-api-key': RO }, routeOptions: { config: {} } } as never);
      expect(caller).toEqual({ kind: 'key', access: ApiAccess.ReadOnly, keyId: ring.lookup(RO)?.id });
      expect(JSON.stringify(caller)).not.toContain(RO);
    });

    it('lets anyone through on a route marked public', () => {
      expect(outcome(ring, { method: 'POST', config: { [PUBLIC_ROUTE]: true } }).status).toBe(200);
    });

    it('throws Nest exceptions the errors filter turns into JSON', () => {
      const reply = { header: () => reply, raw: { socket: null } };
      const request = (headers: Record<string, string>) =>
        ({ method: 'POST', headers, url: '/x', routeOptions: { url: '/x', config: {} } }) as never;
      const none = request({});
      expect(() => authorize(authenticate(ring, none), none, reply as never)).toThrow(UnauthorizedException);
      const readOnly = request({ 'x-api-key': RO });
      expect(() => authorize(authenticate(ring, readOnly), readOnly, reply as never)).toThrow(ForbiddenException);
    });
  });

  describe('without keys', () => {
    const open = new ApiKeyRing([], []);

    it.each(['GET', 'POST'])('lets every %s through, with or without a header', (method) => {
      expect(outcome(open, { method }).status).toBe(200);
      expect(outcome(open, { method, headers: { authorization: 'Bearer whatever' } }).status).toBe(200);
    });
  });
});

describe('@Public()', () => {
  it('marks the route config of a decorated handler, and only that handler', () => {
    expect(routeConfigOf(PrivateController.prototype.openHandler)).toEqual({ [PUBLIC_ROUTE]: true });
    expect(routeConfigOf(PrivateController.prototype.handler)).toBeUndefined();
  });

  it('marks every handler of a decorated controller', () => {
    expect(routeConfigOf(PublicController.prototype.handler)).toEqual({ [PUBLIC_ROUTE]: true });
    expect(routeConfigOf(PublicController.prototype.other)).toEqual({ [PUBLIC_ROUTE]: true });
  });
});

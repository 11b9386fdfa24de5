import 'reflect-metadata';
import {
  Controller,
  ExecutionContext,
  ForbiddenException,
  Get,
  HttpException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyRing } from './api-keys';
import { ApiKeyGuard, WWW_AUTHENTICATE, WWW_AUTHENTICATE_INVALID } from './api-key.guard';
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
}

interface Call {
  method?: string;
  headers?: Record<string, string>;
  controller?: new () => object;
  handler?: string;
  type?: string;
}

function context(call: Call): { context: ExecutionContext; headers: Record<string, string> } {
  const replyHeaders: Record<string, string> = {};
  const controller = call.controller ?? PrivateController;
  const handler = (controller.prototype as Record<string, unknown>)[call.handler ?? 'handler'] as () => void;
  const request = {
    method: call.method ?? 'GET',
    headers: call.headers ?? {},
    url: '/api/tasks/x/cancel?y=1',
    routeOptions: { url: '/api/tasks/:task_id/cancel' },
  };
  const reply = {
    header(name: string, value: string) {
      replyHeaders[name] = value;
      return reply;
    },
  };
  const executionContext = {
    getType: () => call.type ?? 'http',
    getHandler: () => handler,
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
  return { context: executionContext, headers: replyHeaders };
}

function outcome(guard: ApiKeyGuard, call: Call): { status: number; message?: string; header?: string } {
  const { context: executionContext, headers } = context(call);
  try {
    expect(guard.canActivate(executionContext)).toBe(true);
    return { status: 200 };
  } catch (error) {
    expect(error).toBeInstanceOf(HttpException);
    const response = (error as HttpException).getResponse() as { message: string };
    return {
      status: (error as HttpException).getStatus(),
      message: response.message,
      header: headers['www-authenticate'],
    };
  }
}

describe('ApiKeyGuard', () => {
  const reflector = new Reflector();
  const guard = new ApiKeyGuard(reflector, new ApiKeyRing([RW], [RO]));

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
      expect(outcome(guard, { method, headers }).status).toBe(status);
    });

    it('answers 401 without a key with WWW-Authenticate: Bearer and a message saying how', () => {
      expect(outcome(guard, {})).toEqual({
        status: 401,
        header: WWW_AUTHENTICATE,
        message: expect.stringMatching(/Authorization: Bearer <key>.*X-API-Key: <key>/),
      });
    });

    it('answers 401 to a wrong key with error="invalid_token", never echoing it', () => {
      const result = outcome(guard, { headers: { 'x-api-key': 'wrong-key-0123456789' } });
      expect(result).toEqual({ status: 401, header: WWW_AUTHENTICATE_INVALID, message: 'Invalid API key' });
    });

    it('answers 403 to a read-only key on a write, naming the route (not the key)', () => {
      const result = outcome(guard, { method: 'POST', headers: { authorization: `Bearer ${RO}` } });
      expect(result.status).toBe(403);
      expect(result.message).toBe('This API key is read-only; POST /api/tasks/:task_id/cancel needs a read-write key');
      expect(result.header).toBeUndefined();
    });

    it.each([
      ['a @Public() controller', { controller: PublicController }],
      ['a @Public() handler', { handler: 'openHandler' }],
      ['a non-HTTP context', { type: 'rpc' }],
    ])('lets anyone through on %s', (_case, call) => {
      expect(outcome(guard, { method: 'POST', ...call }).status).toBe(200);
    });

    it('throws Nest exceptions the errors filter turns into JSON', () => {
      const { context: none } = context({});
      expect(() => guard.canActivate(none)).toThrow(UnauthorizedException);
      const { context: readOnly } = context({ method: 'POST', headers: { 'x-api-key': RO } });
      expect(() => guard.canActivate(readOnly)).toThrow(ForbiddenException);
    });
  });

  describe('without keys', () => {
    const open = new ApiKeyGuard(reflector, new ApiKeyRing([], []));

    it.each(['GET', 'POST'])('lets every %s through, with or without a header', (method) => {
      expect(outcome(open, { method }).status).toBe(200);
      expect(outcome(open, { method, headers: { authorization: 'Bearer whatever' } }).status).toBe(200);
    });
  });
});

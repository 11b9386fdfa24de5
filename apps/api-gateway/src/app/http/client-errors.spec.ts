import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { fastifyClientMessage, frameworkErrorHandler } from './client-errors';

describe('fastifyClientMessage', () => {
  it.each([
    [413, 'Request body is too large', 'The request body is too large (at most 1024 bytes)'],
    [414, "'/api/tasks/aaaa' is exceeding the max param length", 'The URL is too long'],
    [
      415,
      'Unsupported Media Type text/html',
      'Unsupported media type: send the body as JSON with "Content-Type: application/json"',
    ],
    [400, "'/api/%zz' is not a valid url component", 'The URL is not valid percent-encoded UTF-8'],
    [400, 'Request body size did not match Content-Length', 'The request body size did not match Content-Length'],
    [400, "Body cannot be empty when content-type is set to 'application/json'", 'The request body is empty'],
    [400, "Body is not valid JSON but content-type is set to 'application/json'", 'The request body is not valid JSON'],
  ])('%d %p → %p', (status, message, expected) => {
    expect(fastifyClientMessage(status, message, 1024)).toBe(expected);
  });

  it('leaves other messages alone (undefined)', () => {
    expect(fastifyClientMessage(400, 'Invalid request: priority', 1024)).toBeUndefined();
    expect(fastifyClientMessage(409, 'Conflict', 1024)).toBeUndefined();
  });
});

describe('frameworkErrorHandler', () => {
  function run(error: Partial<FastifyError>): { status?: number; headers: Record<string, string>; body?: unknown } {
    const sent: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
    const reply = {
      code(status: number) {
        sent.status = status;
        return reply;
      },
      header(name: string, value: string) {
        sent.headers[name] = value;
        return reply;
      },
      send(body: unknown) {
        sent.body = body;
        return reply;
      },
    };
    frameworkErrorHandler(1024)(
      error as FastifyError,
      { id: 'req-1' } as FastifyRequest,
      reply as unknown as FastifyReply,
    );
    return sent;
  }

  it('answers a bad URL with the usual JSON error, without echoing the path or the code', () => {
    const sent = run({ statusCode: 400, code: 'FST_ERR_BAD_URL', message: "'/api/%zz' is not a valid url component" });
    expect(sent).toEqual({
      status: 400,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req-1' },
      body: { statusCode: 400, error: 'Bad Request', message: 'The URL is not valid percent-encoded UTF-8' },
    });
  });

  it('answers an over-long path parameter with 414', () => {
    expect(run({ statusCode: 414, message: "'/x' is exceeding the max param length" }).body).toEqual({
      statusCode: 414,
      error: 'URI Too Long',
      message: 'The URL is too long',
    });
  });

  it('hides anything else behind a generic message', () => {
    expect(run({ statusCode: 500, message: 'Unexpected error from async constraint' }).body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
    });
    expect(run({ message: 'no status' }).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Bad Request',
    });
  });
});

import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Readable messages for the client errors Fastify raises itself (before any route runs), or
 * undefined when `message` is not one of them.
 */
export function fastifyClientMessage(status: number, message: string, bodyLimit: number): string | undefined {
  switch (status) {
    case 413:
      return `The request body is too large (at most ${bodyLimit} bytes)`;
    case 414:
      return 'The URL is too long';
    case 415:
      return 'Unsupported media type: send the body as JSON with "Content-Type: application/json"';
    case 400:
      if (/not a valid url component/i.test(message)) {
        return 'The URL is not valid percent-encoded UTF-8';
      }
      if (/Content-Length/i.test(message)) {
        return 'The request body size did not match Content-Length';
      }
      if (/Body cannot be empty/i.test(message)) {
        return 'The request body is empty';
      }
      if (/not valid JSON/i.test(message)) {
        return 'The request body is not valid JSON';
      }
      return undefined;
    default:
      return undefined;
  }
}

/**
 * Fastify's `frameworkErrors`: what its router answers by itself — a path that is not valid
 * percent-encoding (`/api/tasks/%zz`), a path parameter beyond `maxParamLength` — in the same
 * JSON shape as every other error, instead of Fastify's own body that echoes the path.
 */
export function frameworkErrorHandler(
  bodyLimit: number,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 400;
    const clientError = status < 500;
    void reply
      .code(clientError ? status : 500)
      .header('content-type', 'application/json; charset=utf-8')
      .header('x-request-id', request.id)
      .send({
        statusCode: clientError ? status : 500,
        error: STATUS_CODES[clientError ? status : 500],
        message: clientError
          ? (fastifyClientMessage(status, error.message, bodyLimit) ?? STATUS_CODES[status] ?? 'Bad request')
          : 'Internal server error',
      });
  };
}

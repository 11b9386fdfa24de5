import { BadRequestException, HttpException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { displayFieldName, toWellFormedString } from '@tasklane/contracts';

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

function bodyError(message: string): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message,
    errors: [{ field: '(body)', message }],
  });
}

/**
 * The `charset` of a JSON request, when it names anything but UTF-8 (RFC 8259: JSON is UTF-8).
 */
export function foreignCharset(contentType: string | undefined): string | undefined {
  const charset = CHARSET.exec(contentType ?? '')?.[1];
  if (charset === undefined) {
    return undefined;
  }
  return ['utf-8', 'utf8'].includes(charset.toLowerCase()) ? undefined : charset;
}

type JsonParser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => void;

/**
 * Parses a JSON body strictly, or explains in one 4xx what is wrong with it:
 * - 415 for a charset other than UTF-8;
 * - 400 for bytes that are not valid UTF-8 (a plain `toString()` would silently turn them into
 *   U+FFFD and store something the client never sent);
 * - 400 for malformed JSON, and for `__proto__` / `constructor.prototype` (Fastify's
 *   secure-json-parse, set to refuse both).
 * An empty body counts as no body (`POST …/cancel` with a JSON content type and nothing else).
 */
export function parseJsonBody(
  request: FastifyRequest,
  raw: Buffer,
  parseJson: JsonParser,
  done: (error: Error | null, value?: unknown) => void,
): void {
  const charset = foreignCharset(request.headers['content-type']);
  if (charset !== undefined) {
    done(
      new UnsupportedMediaTypeException({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: `JSON bodies must be UTF-8; charset=${displayFieldName(charset)} is not supported`,
      }),
    );
    return;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    done(bodyError('The request body is not valid UTF-8'));
    return;
  }
  if (text.trim() === '') {
    done(null, undefined);
    return;
  }
  parseJson(request, text, (error, value) => {
    if (error) {
      done(error instanceof HttpException ? error : jsonError(text));
      return;
    }
    done(null, value);
  });
}

/**
 * Why secure-json-parse refused a body (it only says "not valid JSON"): plain `JSON.parse` either
 * fails too, with V8's message about the client's own text ("Unexpected token '}' …", "Unexpected
 * end of JSON input"), kept short and well-formed — or succeeds, and the body was poisoned.
 */
function jsonError(text: string): BadRequestException {
  try {
    JSON.parse(text);
  } catch (error) {
    const detail = toWellFormedString(String((error as Error).message).slice(0, 160));
    return bodyError(`The request body is not valid JSON: ${detail}`);
  }
  return bodyError('The request body contains a forbidden property (__proto__ or constructor.prototype)');
}

/** Replaces Fastify's JSON parser with {@link parseJsonBody}. */
export function registerJsonBodyParser(fastify: FastifyInstance, bodyLimit: number): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error') as unknown as JsonParser;
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    parseJsonBody(request, body as Buffer, parseJson, done);
  });
}

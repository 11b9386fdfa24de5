import { BadRequestException, HttpException, UnsupportedMediaTypeException } from '@nestjs/common';
import Fastify from 'fastify';
import type { FastifyRequest } from 'fastify';
import { foreignCharset, parseJsonBody } from './json-body';

const secureParse = Fastify().getDefaultJsonParser('error', 'error') as unknown as Parameters<typeof parseJsonBody>[2];

function parse(raw: Buffer | string, contentType = 'application/json'): { error?: HttpException; value?: unknown } {
  const request = { headers: { 'content-type': contentType } } as unknown as FastifyRequest;
  let outcome: { error?: HttpException; value?: unknown } | undefined;
  parseJsonBody(request, Buffer.isBuffer(raw) ? raw : Buffer.from(raw), secureParse, (error, value) => {
    outcome = error ? { error: error as HttpException } : { value };
  });
  if (!outcome) {
    throw new Error('parseJsonBody did not call back synchronously');
  }
  return outcome;
}

function message(error: HttpException | undefined): string {
  return (error?.getResponse() as { message: string }).message;
}

describe('foreignCharset', () => {
  it.each([
    [undefined, undefined],
    ['application/json', undefined],
    ['application/json; charset=utf-8', undefined],
    ['application/json;charset=UTF-8', undefined],
    ['application/json; charset="utf8"', undefined],
    ['application/json; charset=latin1', 'latin1'],
    ['application/json; charset=utf-16le', 'utf-16le'],
    ['application/json; CHARSET="ISO-8859-1"', 'ISO-8859-1'],
  ])('%p → %p', (contentType, expected) => {
    expect(foreignCharset(contentType)).toBe(expected);
  });
});

describe('parseJsonBody', () => {
  it('parses UTF-8 JSON, keeping every well-formed character', () => {
    const text = '{"subject":"Grüße \u{1F600} \u05E9\u05DC\u05D5\u05DD \\u0000 \u202E"}';
    expect(parse(Buffer.from(text, 'utf8')).value).toEqual(JSON.parse(text));
  });

  it('drops a UTF-8 byte-order mark', () => {
    expect(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')])).value).toEqual({ a: 1 });
  });

  it('takes an empty or blank body as no body', () => {
    expect(parse('')).toEqual({ value: undefined });
    expect(parse(' \r\n\t')).toEqual({ value: undefined });
  });

  it.each([
    ['a lone continuation byte', [0x80]],
    ['0xFF', [0xff]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['an encoded surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['a code point beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['UTF-16 with a BOM', [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]],
  ])('refuses invalid UTF-8 (%s) with a 400 naming the body', (_case, bytes) => {
    const raw = Buffer.concat([Buffer.from('{"a":"'), Buffer.from(bytes), Buffer.from('"}')]);
    const { error } = parse(raw);
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error?.getResponse()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'The request body is not valid UTF-8',
      errors: [{ field: '(body)', message: 'The request body is not valid UTF-8' }],
    });
  });

  it('refuses another charset with 415', () => {
    const { error } = parse('{"a":1}', 'application/json; charset=iso-8859-1');
    expect(error).toBeInstanceOf(UnsupportedMediaTypeException);
    expect(message(error)).toBe('JSON bodies must be UTF-8; charset=iso-8859-1 is not supported');
  });

  it.each([
    ['{"a":', /^The request body is not valid JSON: /],
    ['{a:1}', /^The request body is not valid JSON: /],
    ['NaN', /^The request body is not valid JSON: /],
    ['{"__proto__":{"x":1}}', /forbidden property \(__proto__ or constructor\.prototype\)/],
    ['{"a":{"constructor":{"prototype":{"x":1}}}}', /forbidden property/],
  ])('refuses %p with a 400 that says why', (text, expected) => {
    const { error } = parse(text);
    expect(error).toBeInstanceOf(BadRequestException);
    expect(message(error)).toMatch(expected);
  });

  it('keeps the JSON error message short and well-formed', () => {
    const { error } = parse(`"\uD800${'x'.repeat(1000)}`);
    expect(message(error).length).toBeLessThan(250);
  });

  it('parses unpaired surrogate escapes (the request checks refuse them later)', () => {
    expect(parse('{"a":"\\ud800"}').value).toEqual({ a: '\uD800' });
  });
});

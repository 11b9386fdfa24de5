import { ExecutionContext, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiCaller } from './api-key.hooks';

/** Hex digits of a key's digest that name it in a task's history (48 bits: tells keys apart, reveals nothing). */
const KEY_NAME_DIGITS = 12;

/** Who made a request, as a task's history records it: `key:<digest prefix>`, or `anonymous` when keys are off. */
export function actorOf(caller: ApiCaller | null): string {
  return caller?.kind === 'key' ? `key:${caller.keyId.slice(0, KEY_NAME_DIGITS)}` : 'anonymous';
}

/** The caller of this request as {@link actorOf} names it (set by the authentication hook). */
export const Actor = createParamDecorator((_data: unknown, context: ExecutionContext): string =>
  actorOf(context.switchToHttp().getRequest<FastifyRequest>().apiCaller),
);

import { ExecutionContext, createParamDecorator } from '@nestjs/common';
import { IDEMPOTENCY_KEY_PATTERN, IdempotencyKeyLength } from '@tasklane/contracts';
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../../http/api-errors';

/** The request header carrying an idempotency key (as Stripe and the IETF draft name it). */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** Set on a 200 that returns the task an earlier request with the same key created. */
export const IDEMPOTENT_REPLAY_HEADER = 'Idempotent-Replayed';

/** The `Idempotency-Key` header's value, or null without one; a 400 naming it when it is malformed. */
export function idempotencyKeyOf(headers: FastifyRequest['headers']): string | null {
  const value = headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
  if (value === undefined) {
    return null;
  }
  if (
    typeof value !== 'string' ||
    value.length < IdempotencyKeyLength.Min ||
    value.length > IdempotencyKeyLength.Max ||
    !IDEMPOTENCY_KEY_PATTERN.test(value)
  ) {
    throw invalidRequest([
      {
        field: IDEMPOTENCY_KEY_HEADER,
        message: `${IDEMPOTENCY_KEY_HEADER} must be given once, ${IdempotencyKeyLength.Min} to ${IdempotencyKeyLength.Max} visible ASCII characters without spaces`,
      },
    ]);
  }
  return value;
}

/** The request's `Idempotency-Key` header (see {@link idempotencyKeyOf}). */
export const IdempotencyKeyHeader = createParamDecorator((_data: unknown, context: ExecutionContext): string | null =>
  idempotencyKeyOf(context.switchToHttp().getRequest<FastifyRequest>().headers),
);

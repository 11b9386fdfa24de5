import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { FieldError, inspectJsonValue } from '@tasklane/contracts';
import { invalidRequest } from './api-errors';
import { queryStringProblems } from './query-string';

/**
 * Refuses, on every route and before any pipe or handler sees the request, a query string that is
 * not valid percent-encoded UTF-8, and a query or body holding prototype-pollution keys
 * (`__proto__`, `constructor`, `prototype`), unpaired surrogates, unsafe numbers or deep nesting —
 * whether or not the handler reads them. API keys are checked before (an `onRequest` hook), so
 * callers without a key get a 401 first. A guard rather than an interceptor: with no interceptor at all, NestJS runs
 * a request without an rxjs pipeline and without `AsyncResource.bind` calls (docs/benchmarks.md).
 */
@Injectable()
export class RequestSanityGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') {
      const problems = requestProblems(context.switchToHttp().getRequest<FastifyRequest>());
      if (problems.length > 0) {
        throw invalidRequest(problems);
      }
    }
    return true;
  }
}

export function requestProblems(request: Pick<FastifyRequest, 'url' | 'query' | 'body'>): FieldError[] {
  const encoding = queryStringProblems(request.url);
  if (encoding.length > 0) {
    return encoding;
  }
  const problems = inspectJsonValue(request.query ?? {}, '');
  if (request.body !== undefined) {
    problems.push(...inspectJsonValue(request.body));
  }
  return problems;
}

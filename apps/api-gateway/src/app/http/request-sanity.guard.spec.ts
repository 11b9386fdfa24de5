import { BadRequestException, ExecutionContext } from '@nestjs/common';
import { RequestSanityGuard, requestProblems } from './request-sanity.guard';

function query(entries: Record<string, string | string[]>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, entries);
}

describe('requestProblems', () => {
  it('accepts a clean request', () => {
    expect(requestProblems({ url: '/api/tasks?limit=5', query: query({ limit: '5' }), body: undefined })).toEqual([]);
    expect(
      requestProblems({ url: '/x', query: query({}), body: { task_name: 'email.send', params: { a: [1] } } }),
    ).toEqual([]);
  });

  it('refuses bad percent-encoding first, without looking further', () => {
    const problems = requestProblems({ url: '/x?a=%zz', query: query({ a: '%zz' }), body: { __proto__x: 1 } });
    expect(problems.map((problem) => problem.field)).toEqual(['a']);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses %s in the query, also repeated', (key) => {
    expect(requestProblems({ url: `/x?${key}=1`, query: query({ [key]: '1' }), body: undefined })).toEqual([
      { field: key, message: `property ${key} is not allowed (reserved name)` },
    ]);
    expect(
      requestProblems({ url: `/x?${key}=1&${key}=2`, query: query({ [key]: ['1', '2'] }), body: undefined }),
    ).toHaveLength(1);
  });

  it('refuses reserved keys and unpaired surrogates in the body of any route', () => {
    const body = JSON.parse('{"a":{"constructor":1},"b":"\\ud800"}') as unknown;
    expect(requestProblems({ url: '/x', query: query({}), body }).map((problem) => problem.field)).toEqual([
      'a.constructor',
      'b',
    ]);
  });
});

describe('RequestSanityGuard', () => {
  const guard = new RequestSanityGuard();

  function contextOf(request: object, type = 'http'): ExecutionContext {
    return {
      getType: () => type,
      switchToHttp: () => ({ getRequest: () => request }),
    } as unknown as ExecutionContext;
  }

  it('lets a clean request through to the handler', () => {
    expect(guard.canActivate(contextOf({ url: '/x', query: query({}) }))).toBe(true);
  });

  it('throws the usual 400 naming each bad field, before the handler', () => {
    let thrown: unknown;
    try {
      guard.canActivate(contextOf({ url: '/x?__proto__=1', query: query({ ['__proto__']: '1' }) }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BadRequestException);
    expect((thrown as BadRequestException).getResponse()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Invalid request: __proto__',
      errors: [{ field: '__proto__', message: 'property __proto__ is not allowed (reserved name)' }],
    });
  });

  it('ignores non-HTTP contexts', () => {
    expect(guard.canActivate(contextOf({}, 'rpc'))).toBe(true);
  });
});

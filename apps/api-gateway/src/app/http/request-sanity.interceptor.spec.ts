import { BadRequestException, CallHandler, ExecutionContext } from '@nestjs/common';
import { of } from 'rxjs';
import { RequestSanityInterceptor, requestProblems } from './request-sanity.interceptor';

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

describe('RequestSanityInterceptor', () => {
  const interceptor = new RequestSanityInterceptor();
  const next: CallHandler = { handle: () => of('handled') };

  function contextOf(request: object, type = 'http'): ExecutionContext {
    return {
      getType: () => type,
      switchToHttp: () => ({ getRequest: () => request }),
    } as unknown as ExecutionContext;
  }

  it('lets a clean request through to the handler', () => {
    const handled = jest.fn();
    interceptor.intercept(contextOf({ url: '/x', query: query({}) }), next).subscribe(handled);
    expect(handled).toHaveBeenCalledWith('handled');
  });

  it('throws the usual 400 naming each bad field, before the handler', () => {
    const handle = jest.fn(() => of('handled'));
    let thrown: unknown;
    try {
      interceptor.intercept(contextOf({ url: '/x?__proto__=1', query: query({ ['__proto__']: '1' }) }), { handle });
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
    expect(handle).not.toHaveBeenCalled();
  });

  it('ignores non-HTTP contexts', () => {
    const handled = jest.fn();
    interceptor.intercept(contextOf({}, 'rpc'), next).subscribe(handled);
    expect(handled).toHaveBeenCalled();
  });
});

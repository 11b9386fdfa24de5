import { queryStringProblems } from './query-string';

describe('queryStringProblems', () => {
  it.each([
    '/api/tasks',
    '/api/tasks?',
    '/api/tasks?status=pending&limit=5',
    '/api/tasks?a=%20b+c&empty=&flag',
    '/api/tasks?emoji=%F0%9F%98%80&e=%C3%A9',
    '/api/tasks?&&a=1&&',
    '/api/tasks?a==b',
  ])('accepts %s', (url) => {
    expect(queryStringProblems(url)).toEqual([]);
  });

  it.each([
    ['an invalid escape', '/x?status=%zz', 'status'],
    ['a lone %', '/x?status=%', 'status'],
    ['a truncated escape', '/x?status=%E', 'status'],
    ['a byte that is not UTF-8', '/x?status=%FF', 'status'],
    ['an encoded surrogate', '/x?status=%ED%A0%80', 'status'],
    ['an overlong encoding', '/x?status=%C0%AF', 'status'],
    ['a truncated UTF-8 sequence', '/x?status=%E2%82', 'status'],
  ])('refuses %s in a value, naming the parameter', (_case, url, field) => {
    expect(queryStringProblems(url)).toEqual([{ field, message: `${field} is not valid percent-encoded UTF-8` }]);
  });

  it('refuses a bad parameter name, naming the query', () => {
    expect(queryStringProblems('/x?%FF=1')).toEqual([
      { field: 'query', message: 'query has a parameter name that is not valid percent-encoded UTF-8' },
    ]);
  });

  it.each([
    ['a raw non-ASCII character', '/x?status=\u00e9'],
    ['a space', '/x?status=a b'],
    ['a control character', '/x?status=\u0001'],
  ])('refuses %s (it must be percent-encoded)', (_case, url) => {
    expect(queryStringProblems(url)).toEqual([
      { field: 'query', message: 'query must be printable ASCII; percent-encode other characters' },
    ]);
  });

  it('names each bad parameter', () => {
    expect(queryStringProblems('/x?a=%zz&b=ok&c=%FF').map((problem) => problem.field)).toEqual(['a', 'c']);
  });
});

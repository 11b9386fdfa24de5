import {
  FORBIDDEN_PROPERTY_NAMES,
  MAX_JSON_DEPTH,
  MAX_REPORTED_PROBLEMS,
  displayFieldName,
  inspectJsonValue,
  isWellFormedString,
  toWellFormedString,
} from './json-safety';

function fields(value: unknown, prefix?: string): string[] {
  return inspectJsonValue(value, prefix).map((problem) => problem.field);
}

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) {
    value = level % 2 === 0 ? [value] : { a: value };
  }
  return value;
}

describe('isWellFormedString', () => {
  it.each([
    ['plain ASCII', 'hello', true],
    ['the empty string', '', true],
    ['a surrogate pair (emoji)', 'ok \u{1F600}', true],
    ['NUL and other controls', '\u0000\u0007\u001b', true],
    ['a BOM, a right-to-left override and non-characters', '\uFEFF\u202E\uFFFE\uFFFF', true],
    ['a lone high surrogate', '\uD800', false],
    ['a lone low surrogate', 'x\uDC00y', false],
    ['a high surrogate at the end', 'abc\uDBFF', false],
    ['two high surrogates', '\uD800\uD800\uDC00', false],
    ['reversed pair', '\uDC00\uD800', false],
  ])('%s → %p', (_case, text, expected) => {
    expect(isWellFormedString(text)).toBe(expected);
  });

  it('agrees with String.prototype.isWellFormed where the runtime has it', () => {
    const native = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
    if (!native) {
      return;
    }
    const samples = ['a', '\uD800', '\uDC00', '\uD83D\uDE00', 'x\uD83Dy', '\uDE00\uD83D', ''];
    for (const sample of samples) {
      expect(isWellFormedString(sample)).toBe(native.call(sample));
    }
  });

  it('toWellFormedString replaces each unpaired surrogate by U+FFFD and keeps pairs', () => {
    expect(toWellFormedString('a\uD800b\uD83D\uDE00c\uDC00')).toBe('a\uFFFDb\uD83D\uDE00c\uFFFD');
  });

  it('displayFieldName shortens long names', () => {
    expect(displayFieldName('x'.repeat(1000))).toBe(`${'x'.repeat(64)}…`);
    expect(displayFieldName('\uD800')).toBe('\uFFFD');
  });
});

describe('inspectJsonValue', () => {
  it.each([
    ['a valid enqueue body', { task_name: 'email.send', params: { to: 'a@b.c', subject: 'Hi', body: '\u{1F600}' } }],
    ['scalars', 5],
    ['null', null],
    ['booleans in arrays', [true, false, null]],
    ['the largest safe integers', { a: Number.MAX_SAFE_INTEGER, b: -Number.MAX_SAFE_INTEGER, c: 0.5 }],
    ['a key merely containing a reserved word', { my__proto__: 1, constructors: 2, prototype_id: 3 }],
    ['nesting at the limit', nested(MAX_JSON_DEPTH)],
  ])('accepts %s', (_case, value) => {
    expect(inspectJsonValue(value)).toEqual([]);
  });

  it.each([...FORBIDDEN_PROPERTY_NAMES])('refuses the key %s at the top, in params and in arrays', (key) => {
    const body = JSON.parse(
      `{"${key}": 1, "params": {"${key}": {"x": 1}}, "list": [{"deep": {"${key}": null}}]}`,
    ) as unknown;
    expect(fields(body)).toEqual([key, `params.${key}`, `list[0].deep.${key}`]);
    expect(inspectJsonValue(body)[0].message).toBe(`property ${key} is not allowed (reserved name)`);
  });

  it('refuses reserved keys of null-prototype objects (parsed query strings)', () => {
    const query = Object.assign(Object.create(null) as Record<string, unknown>, { constructor: 'x', limit: '5' });
    expect(fields(query)).toEqual(['constructor']);
  });

  it('names unpaired surrogates in values, nested values and keys', () => {
    const body = { subject: 'a\uD800', params: { list: ['ok', '\uDFFF'] }, ['k\uDBFF']: 1 };
    const problems = inspectJsonValue(body);
    // Keys of an object are checked before its values.
    expect(problems.map((problem) => problem.field)).toEqual(['k\uFFFD', 'subject', 'params.list[1]']);
    expect(problems[0].message).toMatch(/^property name k\uFFFD must be well-formed Unicode/);
    expect(problems[1].message).toBe('subject must be well-formed Unicode (it has an unpaired surrogate)');
  });

  it('names the value itself (body) when it is a bad string', () => {
    expect(inspectJsonValue('\uD800')).toEqual([
      { field: '(body)', message: '(body) must be well-formed Unicode (it has an unpaired surrogate)' },
    ]);
    expect(fields('\uD800', 'params')).toEqual(['params']);
  });

  it.each([
    ['Infinity (JSON 1e400)', JSON.parse('{"priority": 1e400}') as unknown, 'must be a finite number'],
    ['-Infinity', { priority: -Infinity }, 'must be a finite number'],
    ['NaN', { priority: NaN }, 'must be a finite number'],
    ['2^53', { priority: 2 ** 53 }, 'must be between'],
    ['a precision-losing integer', JSON.parse('{"priority": 9007199254740993}') as unknown, 'must be between'],
    ['-1e300', { priority: -1e300 }, 'must be between'],
  ])('refuses %s', (_case, body, message) => {
    const problems = inspectJsonValue(body);
    expect(problems).toHaveLength(1);
    expect(problems[0].field).toBe('priority');
    expect(problems[0].message).toContain(message);
  });

  it('refuses nesting deeper than the limit, once, without descending', () => {
    const problems = inspectJsonValue(nested(MAX_JSON_DEPTH + 1));
    expect(problems).toHaveLength(1);
    expect(problems[0].message).toContain(`at most ${MAX_JSON_DEPTH} levels`);
  });

  it('survives a million levels of nesting (iterative, no stack overflow)', () => {
    const text = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    const value = JSON.parse(text) as unknown;
    expect(inspectJsonValue(value)).toHaveLength(1);
  });

  it('reports at most a bounded number of problems', () => {
    const body = Array.from({ length: 10_000 }, () => '\uD800');
    expect(inspectJsonValue(body)).toHaveLength(MAX_REPORTED_PROBLEMS);
    const keys = Object.fromEntries(Array.from({ length: 1000 }, (_, index) => [`k${index}\uD800`, 1]));
    expect(inspectJsonValue(keys)).toHaveLength(MAX_REPORTED_PROBLEMS);
  });

  it('handles very wide objects and arrays', () => {
    const wide = Object.fromEntries(Array.from({ length: 200_000 }, (_, index) => [`k${index}`, index]));
    expect(inspectJsonValue(wide)).toEqual([]);
    expect(inspectJsonValue(Array.from({ length: 500_000 }, (_, index) => index))).toEqual([]);
  });
});

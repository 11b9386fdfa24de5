import { isReadMethod, presentedCredential } from './credentials';

const KEY = 'key-0123456789abcdef';

describe('presentedCredential', () => {
  it.each([
    ['no header', {}, { kind: 'none' }],
    ['Authorization: Bearer <key>', { authorization: `Bearer ${KEY}` }, { kind: 'key', key: KEY }],
    ['a lower-case scheme', { authorization: `bearer ${KEY}` }, { kind: 'key', key: KEY }],
    ['extra spaces', { authorization: `Bearer   ${KEY}  ` }, { kind: 'key', key: KEY }],
    ['X-API-Key', { 'x-api-key': KEY }, { kind: 'key', key: KEY }],
    ['both headers with the same key', { authorization: `Bearer ${KEY}`, 'x-api-key': KEY }, { kind: 'key', key: KEY }],
    ['X-API-Key as an array', { 'x-api-key': [KEY] }, { kind: 'key', key: KEY }],
  ])('%s', (_case, headers, expected) => {
    expect(presentedCredential(headers)).toEqual(expected);
  });

  it.each([
    ['Basic authentication', { authorization: 'Basic dXNlcjpwYXNz' }, /Bearer <API key>/],
    ['a bare key', { authorization: KEY }, /Bearer <API key>/],
    ['Bearer without a key', { authorization: 'Bearer ' }, /Bearer <API key>/],
    ['an empty Authorization', { authorization: '' }, /Bearer <API key>/],
    ['two tokens', { authorization: `Bearer ${KEY} other` }, /Bearer <API key>/],
    ['a comma list', { authorization: `Bearer ${KEY},x` }, /Bearer <API key>/],
    ['an empty X-API-Key', { 'x-api-key': '  ' }, /X-API-Key header is empty/],
    ['different keys in both headers', { authorization: `Bearer ${KEY}`, 'x-api-key': `${KEY}x` }, /different keys/],
  ])('refuses %s as malformed, without echoing the key', (_case, headers, reason) => {
    const credential = presentedCredential(headers);
    expect(credential.kind).toBe('malformed');
    const text = credential.kind === 'malformed' ? credential.reason : '';
    expect(text).toMatch(reason);
    expect(text).not.toContain(KEY);
  });
});

describe('isReadMethod', () => {
  it.each([
    ['GET', true],
    ['HEAD', true],
    ['OPTIONS', true],
    ['get', true],
    ['POST', false],
    ['PUT', false],
    ['PATCH', false],
    ['DELETE', false],
  ])('%s → %p', (method, expected) => {
    expect(isReadMethod(method)).toBe(expected);
  });
});

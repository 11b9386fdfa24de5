import { etagOf, matchesEtag } from './etag.hook';

describe('ETags of API reads', () => {
  it('gives equal bodies equal weak tags and different bodies different ones', () => {
    expect(etagOf('{"a":1}')).toBe(etagOf(Buffer.from('{"a":1}')));
    expect(etagOf('{"a":1}')).not.toBe(etagOf('{"a":2}'));
    expect(etagOf('{}')).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
  });

  it('matches If-None-Match by weak comparison, in a list, or *', () => {
    const tag = etagOf('{"a":1}');
    expect(matchesEtag(tag, tag)).toBe(true);
    expect(matchesEtag(tag.replace(/^W\//, ''), tag)).toBe(true);
    expect(matchesEtag(`W/"other", ${tag}`, tag)).toBe(true);
    expect(matchesEtag('*', tag)).toBe(true);
    expect(matchesEtag('W/"other"', tag)).toBe(false);
    expect(matchesEtag(undefined, tag)).toBe(false);
  });
});

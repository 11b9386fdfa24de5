import { parseCommaList } from './comma-list';

describe('parseCommaList', () => {
  it.each([
    [undefined, []],
    [null, []],
    ['', []],
    ['a', ['a']],
    [' a , b ,, c\n', ['a', 'b', 'c']],
    [',,,', []],
    [
      ['x ', ' y'],
      ['x', 'y'],
    ],
  ])('%p → %p', (raw, expected) => {
    expect(parseCommaList(raw)).toEqual(expected);
  });
});

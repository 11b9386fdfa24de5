import { csvField } from './tasks-summary-report.service';

describe('csvField', () => {
  it.each([
    ['leaves plain text as it is', 'email.send', 'email.send'],
    ['writes a number as digits', 42, '42'],
    ['writes zero as 0, not empty', 0, '0'],
    ['writes null as an empty field', null, ''],
    ['writes an empty string as an empty field', '', ''],
    ['keeps leading and trailing spaces unquoted', ' padded ', ' padded '],
    ['quotes a field with a comma', 'a,b', '"a,b"'],
    ['doubles and quotes double quotes', 'say "hi"', '"say ""hi"""'],
    ['quotes a lone double quote', '"', '""""'],
    ['quotes a field with a line feed', 'line 1\nline 2', '"line 1\nline 2"'],
    ['quotes a field with a carriage return', 'line 1\r\nline 2', '"line 1\r\nline 2"'],
  ])('%s', (_, value, expected) => {
    expect(csvField(value)).toBe(expected);
  });
});

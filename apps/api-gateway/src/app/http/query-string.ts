import { FieldError, displayFieldName } from '@tasklane/contracts';

function decodeComponent(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * Problems of the raw query string of a request URL that Fastify's parser lets through:
 * characters outside printable ASCII (they must be percent-encoded), and percent-encoding that is
 * invalid (`%zz`, a lone `%`) or does not decode to UTF-8 (`%FF`, an encoded surrogate
 * `%ED%A0%80`, an overlong `%C0%AF`) — fast-querystring would keep such text as it is.
 */
export function queryStringProblems(url: string): FieldError[] {
  const start = url.indexOf('?');
  if (start < 0) {
    return [];
  }
  const query = url.slice(start + 1);
  if (/[^\x21-\x7e]/.test(query)) {
    return [{ field: 'query', message: 'query must be printable ASCII; percent-encode other characters' }];
  }
  const problems: FieldError[] = [];
  for (const part of query.split('&')) {
    if (part === '') {
      continue;
    }
    const equals = part.indexOf('=');
    const rawName = equals < 0 ? part : part.slice(0, equals);
    const name = decodeComponent(rawName);
    if (name === undefined) {
      problems.push({
        field: 'query',
        message: 'query has a parameter name that is not valid percent-encoded UTF-8',
      });
      continue;
    }
    if (equals >= 0 && decodeComponent(part.slice(equals + 1)) === undefined) {
      const field = displayFieldName(name);
      problems.push({ field, message: `${field} is not valid percent-encoded UTF-8` });
    }
  }
  return problems;
}

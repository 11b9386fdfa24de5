import { IncomingHttpHeaders, request } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent as it is: may hold invalid percent-encoding (only bytes 0x21–0xFF, as Node requires). */
  path: string;
  headers?: Record<string, string>;
  /** Sent as it is: may be invalid UTF-8. */
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP/1.1 request with nothing normalised on the way — unlike fetch, which validates and
 * re-encodes URLs and headers: the path, the header values (Latin-1) and the body bytes go out
 * exactly as given.
 */
export function rawRequest(baseUrl: string, options: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise<RawResponse>((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path,
        headers: {
          ...(options.body !== undefined ? { 'content-length': String(options.body.length) } : {}),
          ...options.headers,
        },
        agent: false,
        timeout: timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${options.method} ${options.path} timed out`)));
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

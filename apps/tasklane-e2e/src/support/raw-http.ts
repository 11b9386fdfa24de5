import { IncomingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** Sent as it is: may hold invalid percent-encoding (only bytes 0x21–0xFF, as Node requires). */
  path: string;
  headers?: Record<string, string>;
  /** Sent as it is: may be invalid UTF-8. */
  body?: Buffer;
  /** The client address to connect from (any 127.x.y.z is this machine). */
  localAddress?: string;
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
        localAddress: options.localAddress,
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

export interface PartialUploadResult extends RawResponse {
  /** Body bytes written before the answer came (of the announced Content-Length). */
  sentBytes: number;
  /** Whether the server closed (or reset) the connection after answering. */
  closedByServer: boolean;
  /** Milliseconds from the request's first byte until the server closed the connection. */
  closedAfterMs: number;
}

/**
 * A request that announces a body of `announcedBytes` (Content-Length) but sends only the first
 * `sendBytes` of it, then waits: for the answer and for the server to close the connection, or
 * for `waitMs` to pass. A server that checks the caller before reading the body answers (and
 * hangs up) without the rest; one that reads first never answers.
 */
export function partialUpload(
  baseUrl: string,
  options: { path: string; headers: Record<string, string>; announcedBytes: number; sendBytes: number },
  waitMs = 5_000,
): Promise<PartialUploadResult | null> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (result: PartialUploadResult | null): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      }
    };
    const timer = setTimeout(() => finish(null), waitMs);
    const head = [
      `POST ${options.path} HTTP/1.1`,
      `Host: ${url.host}`,
      'Content-Type: application/json',
      `Content-Length: ${options.announcedBytes}`,
      ...Object.entries(options.headers).map(([name, value]) => `${name}: ${value}`),
      '',
      '',
    ].join('\r\n');
    let startedAt = Date.now();
    socket.on('connect', () => {
      startedAt = Date.now();
      socket.write(head);
      socket.write(Buffer.alloc(options.sendBytes, 0x20));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const answer = (): PartialUploadResult => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const [statusAndHeaders, ...rest] = raw.split('\r\n\r\n');
      const [statusLine, ...headerLines] = (statusAndHeaders ?? '').split('\r\n');
      const headers: IncomingHttpHeaders = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      return {
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0),
        headers,
        text: rest.join('\r\n\r\n'),
        sentBytes: options.sendBytes,
        closedByServer: true,
        closedAfterMs: Date.now() - startedAt,
      };
    };
    socket.on('end', () => finish(answer()));
    socket.on('error', (error) => {
      // A reset after the answer came (the server stopped reading a body it refused) still
      // delivered the answer, as an HTTP client reading while it uploads sees it.
      if (chunks.length > 0) {
        finish(answer());
      } else if (!settled) {
        clearTimeout(timer);
        settled = true;
        reject(error);
      }
    });
  });
}

import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Whether a request announces a body (Content-Length above 0, or a chunked Transfer-Encoding). */
export function announcesBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

/**
 * How long, and for how many bytes at most, a connection refused before its body was read is kept
 * open after the answer (a "lingering close", as nginx does): long enough for a client still
 * uploading its body to read its 401/403/429. The bytes that arrive meanwhile are dropped as they
 * come (never buffered nor parsed), and at most the announced Content-Length of them (bounded by
 * `bytes`) is read: a client sending more, or lingering longer, is cut off.
 */
export const LINGER_LIMITS = { ms: 1_000, bytes: 8_388_608 } as const;

/** The bytes a lingering close drops at most for this request: its announced body, bounded. */
export function lingerBudget(headers: IncomingHttpHeaders, cap: number = LINGER_LIMITS.bytes): number {
  const announced = Number(headers['content-length']);
  return Number.isSafeInteger(announced) && announced >= 0 ? Math.min(announced, cap) : cap;
}

/**
 * Closes a connection whose answer has just been written, without losing that answer. Node's
 * server ends the connection and destroys it as soon as the answer is flushed; with the client's
 * upload still arriving, the kernel then answers with a reset, which can discard the answer in
 * the client's buffer before it read it. Instead: keep the write side closed, discard what still
 * arrives, and destroy the socket when the client hangs up, after `limits.ms`, or once
 * `limits.bytes` are discarded (the rest of its body: nothing is left unread, so no reset) or
 * exceeded — whichever comes first.
 */
export function lingerBeforeClosing(socket: Socket, limits: { ms: number; bytes: number } = LINGER_LIMITS): void {
  // The listener net.Socket#destroySoon added (Node's server calls it for `Connection: close`).
  socket.removeListener('finish', socket.destroy);
  let discarded = 0;
  const close = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, limits.ms);
  timer.unref();
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded >= limits.bytes) {
      close();
    }
  });
  socket.once('end', close);
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
}

/**
 * For a request refused before its body was read (401, 403, 429 from an `onRequest` hook): answers
 * with `Connection: close`, so that the body is never read nor parsed, and closes the connection
 * once the answer is out ({@link lingerBeforeClosing}). Requests without a body keep their
 * connection.
 */
export function closeIfBodyUnread(
  request: Pick<FastifyRequest, 'headers'>,
  reply: Pick<FastifyReply, 'header' | 'raw'>,
): void {
  if (!announcesBody(request.headers)) {
    return;
  }
  void reply.header('connection', 'close');
  const socket = reply.raw.socket;
  if (socket !== null) {
    const limits = { ms: LINGER_LIMITS.ms, bytes: lingerBudget(request.headers) };
    reply.raw.once('finish', () => lingerBeforeClosing(socket, limits));
  }
}

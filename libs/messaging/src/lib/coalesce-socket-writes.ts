import { Socket } from 'node:net';
import type { ChannelModel } from 'amqplib';

/**
 * Makes the frames amqplib writes during one tick leave in one `writev` instead of one syscall
 * each: the socket is corked at the first write of a tick and uncorked on the next one. Acks of a
 * group of claims, a batch of publishes or the acks after a tracker batch then cost one write.
 * Ordering, backpressure (`write`'s return value, 'drain') and errors are the socket's own. A
 * connection whose stream is not a socket (amqplib internals changed) is left as it is.
 */
export function coalesceSocketWrites(connection: ChannelModel): boolean {
  const stream = (connection.connection as unknown as { stream?: unknown }).stream;
  if (!(stream instanceof Socket)) {
    return false;
  }
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    stream.uncork();
  };
  stream.write = ((...args: unknown[]): boolean => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof stream.write;
  return true;
}

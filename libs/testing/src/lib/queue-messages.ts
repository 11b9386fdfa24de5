import type { Channel, GetMessage } from 'amqplib';

/** Takes every message ready in `queue` off it (acknowledged as taken), in queue order. */
export async function takeAll(channel: Channel, queue: string): Promise<GetMessage[]> {
  const taken: GetMessage[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) {
      return taken;
    }
    taken.push(message);
  }
}

/** The JSON bodies of `messages`. */
export function jsonBodies<T>(messages: readonly GetMessage[]): T[] {
  return messages.map((message) => JSON.parse(message.content.toString()) as T);
}

import { Socket } from 'node:net';
import { ChannelModel, connect } from 'amqplib';
import { TestVhost, createTestVhost } from '@tasklane/testing';
import { coalesceSocketWrites } from './coalesce-socket-writes';

// Real services (rabbitmqctl, vhost set-up) need more than Jest's default 5 s.
jest.setTimeout(60_000);

const QUEUE = 'test.coalesced-writes';
const MESSAGES = 200;

describe('coalesceSocketWrites (RabbitMQ)', () => {
  let vhost: TestVhost;
  const connections: ChannelModel[] = [];

  beforeAll(async () => {
    vhost = await createTestVhost('socket-writes');
  });

  afterAll(async () => {
    for (const connection of connections) {
      await connection.close().catch(() => undefined);
    }
    await vhost?.delete();
  });

  /** Publishes MESSAGES messages in one tick; returns how many socket writes carried them. */
  async function publishInOneTick(coalesced: boolean): Promise<{ writes: number; received: string[] }> {
    const connection = await connect(vhost.url);
    connections.push(connection);
    expect(coalesced ? coalesceSocketWrites(connection) : true).toBe(true);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(QUEUE, { durable: false });
    await channel.purgeQueue(QUEUE);
    const socket = (connection.connection as unknown as { stream: Socket }).stream;
    let writes = 0;
    const countedSocket = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    for (const method of ['_write', '_writev'] as const) {
      const original = countedSocket[method].bind(socket);
      countedSocket[method] = (...args: unknown[]) => {
        writes += 1;
        return original(...args);
      };
    }

    for (let index = 0; index < MESSAGES; index += 1) {
      channel.sendToQueue(QUEUE, Buffer.from(String(index)));
    }
    await channel.waitForConfirms();
    const publishWrites = writes;

    const received: string[] = [];
    for (;;) {
      const message = await channel.get(QUEUE, { noAck: true });
      if (message === false) {
        break;
      }
      received.push(message.content.toString());
    }
    await channel.close();
    return { writes: publishWrites, received };
  }

  it('sends the frames written in one tick in a few socket writes, all of them, in order', async () => {
    const plain = await publishInOneTick(false);
    const coalesced = await publishInOneTick(true);

    const inOrder = Array.from({ length: MESSAGES }, (_, index) => String(index));
    expect(plain.received).toEqual(inOrder);
    expect(coalesced.received).toEqual(inOrder);
    // Without it, each frame goes out in a write of its own while the socket keeps up.
    expect(plain.writes).toBeGreaterThanOrEqual(MESSAGES);
    expect(coalesced.writes).toBeLessThanOrEqual(MESSAGES / 20);
  });
});

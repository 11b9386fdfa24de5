import { Test, TestingModule } from '@nestjs/testing';
import { ChannelModel, ConfirmChannel, connect } from 'amqplib';
import { BaseEnv, ConfigModule } from '@tasklane/config';
import { TestVhost, createTestVhost, waitFor } from '@tasklane/testing';
import { AmqpConnection } from './amqp-connection';
import { AmqpModule } from './amqp.module';
import { Delivery, QueueConsumer } from './queue-consumer';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(30_000);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A plain amqplib connection of the test's own, to seed and inspect queues. */
class Broker {
  private model: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;

  constructor(private readonly url: string) {}

  async open(): Promise<ConfirmChannel> {
    if (this.channel === null) {
      this.model = await connect(this.url);
      this.model.on('error', () => undefined);
      this.channel = await this.model.createConfirmChannel();
      this.channel.on('error', () => undefined);
      const model = this.model;
      model.on('close', () => {
        if (this.model === model) {
          this.model = null;
          this.channel = null;
        }
      });
    }
    return this.channel;
  }

  async queue(name: string): Promise<void> {
    const channel = await this.open();
    await channel.assertQueue(name, { durable: true });
    await channel.purgeQueue(name);
  }

  async send(queue: string, ...bodies: string[]): Promise<void> {
    const channel = await this.open();
    for (const body of bodies) {
      channel.sendToQueue(queue, Buffer.from(body), { persistent: true, messageId: body });
    }
    await channel.waitForConfirms();
  }

  async ready(queue: string): Promise<number> {
    return (await (await this.open()).checkQueue(queue)).messageCount;
  }

  async consumers(queue: string): Promise<number> {
    return (await (await this.open()).checkQueue(queue)).consumerCount;
  }

  async close(): Promise<void> {
    const model = this.model;
    this.model = null;
    this.channel = null;
    await model?.close().catch(() => undefined);
  }
}

describe('QueueConsumer (RabbitMQ)', () => {
  let vhost: TestVhost;
  let app: TestingModule;
  let connection: AmqpConnection;
  let broker: Broker;
  const consumers: QueueConsumer[] = [];

  function consumer(queue: string, prefetch: number, handle: (delivery: Delivery) => Promise<void>): QueueConsumer {
    const created = new QueueConsumer(connection, { queue, prefetch, handle });
    consumers.push(created);
    return created;
  }

  beforeAll(async () => {
    vhost = await createTestVhost('consumer');
    app = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(BaseEnv, { AMQP_URL: vhost.url }), AmqpModule],
    }).compile();
    app.useLogger(['error', 'warn']);
    await app.init();
    connection = app.get(AmqpConnection);
    await connection.waitUntilConnected(10_000);
    broker = new Broker(vhost.url);
  });

  afterEach(async () => {
    // Whatever a test left running is stopped (stop is idempotent enough: the channel is gone).
    await Promise.all(consumers.splice(0).map((created) => created.stop(0)));
  });

  afterAll(async () => {
    await broker?.close();
    await app?.close();
    await vhost?.delete();
  });

  it('redelivers (redelivered: true) a delivery that was never acked once its consumer stopped', async () => {
    await broker.queue('test.redeliver');
    const first: Delivery[] = [];
    const never = consumer('test.redeliver', 1, async (delivery) => {
      first.push(delivery);
    });
    await never.start();
    expect(never.isConsuming()).toBe(true);

    await broker.send('test.redeliver', 'message-1');
    await waitFor('the first delivery', () => first.length === 1);
    expect(first[0].message.fields.redelivered).toBe(false);
    expect(first[0].message.content.toString()).toBe('message-1');
    expect(await broker.ready('test.redeliver')).toBe(0);

    await never.stop(1_000);
    expect(never.isConsuming()).toBe(false);
    await waitFor('the message to be back in the queue', async () => (await broker.ready('test.redeliver')) === 1);
    // Acking on the closed channel is a no-op, not an error.
    expect(first[0].ack()).toBe(false);

    const second: Delivery[] = [];
    const acking = consumer('test.redeliver', 1, async (delivery) => {
      second.push(delivery);
      delivery.ack();
    });
    await acking.start();
    await waitFor('the redelivery', () => second.length === 1);
    expect(second[0].message.content.toString()).toBe('message-1');
    expect(second[0].message.properties.messageId).toBe('message-1');
    expect(second[0].message.fields.redelivered).toBe(true);

    await acking.stop(1_000);
    expect(await broker.ready('test.redeliver')).toBe(0);
    expect(second).toHaveLength(1);
  });

  it('limits unacknowledged deliveries to the prefetch count', async () => {
    await broker.queue('test.prefetch');
    await broker.send('test.prefetch', ...Array.from({ length: 10 }, (_, index) => `m${index}`));
    const held: Delivery[] = [];
    const holding = consumer('test.prefetch', 3, async (delivery) => {
      held.push(delivery);
    });
    await holding.start();

    await waitFor('three deliveries', () => held.length === 3);
    await sleep(300);
    expect(held).toHaveLength(3);
    expect(await broker.ready('test.prefetch')).toBe(7);
    expect(held.map((delivery) => delivery.message.content.toString())).toEqual(['m0', 'm1', 'm2']);

    // Each ack frees exactly one slot.
    expect(held[0].ack()).toBe(true);
    expect(held[0].ack()).toBe(false);
    await waitFor('a fourth delivery', () => held.length === 4);
    await sleep(200);
    expect(held).toHaveLength(4);
    held[1].nack(false);
    held[2].ack();
    await waitFor('two more deliveries', () => held.length === 6);
    await sleep(200);
    expect(held).toHaveLength(6);
    expect(await broker.ready('test.prefetch')).toBe(4);

    // Stopping hands the three unacked deliveries back: 10 − 2 acked − 1 dropped.
    await holding.stop(0);
    await waitFor('the unacked deliveries to return', async () => (await broker.ready('test.prefetch')) === 7);
  });

  it('stop(graceMs) waits for an in-flight handler to finish and ack before closing', async () => {
    await broker.queue('test.drain');
    const timeline: string[] = [];
    const slow = consumer('test.drain', 5, async (delivery) => {
      const body = delivery.message.content.toString();
      timeline.push(`start ${body}`);
      await sleep(700);
      timeline.push(`ack ${body} ${delivery.ack()}`);
    });
    await slow.start();
    await broker.send('test.drain', 'first');
    await waitFor('the handler to start', () => timeline.length === 1);
    expect(slow.inFlightCount()).toBe(1);

    const before = Date.now();
    const stopping = slow.stop(10_000).then(() => timeline.push('stopped'));
    // Sent while draining: the cancelled consumer must not take it.
    await waitFor('the consumer to be cancelled', () => !slow.isConsuming());
    await broker.send('test.drain', 'second');
    await stopping;

    expect(timeline).toEqual(['start first', 'ack first true', 'stopped']);
    expect(Date.now() - before).toBeGreaterThanOrEqual(400);
    expect(Date.now() - before).toBeLessThan(5_000);
    expect(slow.inFlightCount()).toBe(0);
    expect(await broker.ready('test.drain')).toBe(1);
    expect(await broker.consumers('test.drain')).toBe(0);
  });

  it('stop(graceMs) gives up after the grace period and hands the delivery back', async () => {
    await broker.queue('test.grace');
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let delivery: Delivery | null = null;
    const stuck = consumer('test.grace', 1, async (received) => {
      delivery = received;
      await released;
    });
    await stuck.start();
    await broker.send('test.grace', 'stuck');
    await waitFor('the delivery', () => delivery !== null);

    const onGraceExpired = jest.fn(async () => undefined);
    const before = Date.now();
    await stuck.stop(300, onGraceExpired);
    const elapsed = Date.now() - before;

    expect(onGraceExpired).toHaveBeenCalledTimes(1);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    await waitFor('the delivery to be back in the queue', async () => (await broker.ready('test.grace')) === 1);

    release();
    await waitFor('the handler to finish', () => stuck.inFlightCount() === 0);
    expect((delivery as Delivery | null)?.ack()).toBe(false);
    expect(await broker.ready('test.grace')).toBe(1);
  });

  it('requeues a delivery whose handler throws', async () => {
    await broker.queue('test.throws');
    const seen: boolean[] = [];
    const flaky = consumer('test.throws', 1, async (delivery) => {
      seen.push(delivery.message.fields.redelivered);
      if (seen.length === 1) {
        throw new Error('unexpected');
      }
      delivery.ack();
    });
    await flaky.start();
    await broker.send('test.throws', 'once');
    await waitFor('the redelivery after the error', () => seen.length === 2, { timeoutMs: 5_000 });
    expect(seen).toEqual([false, true]);
    await waitFor('the queue to be empty', async () => (await broker.ready('test.throws')) === 0);
  });

  it('resubscribes after the connection is lost and re-established', async () => {
    await broker.queue('test.reconnect');
    const bodies: string[] = [];
    const durable = consumer('test.reconnect', 2, async (delivery) => {
      bodies.push(delivery.message.content.toString());
      delivery.ack();
    });
    await durable.start();
    await broker.send('test.reconnect', 'before');
    await waitFor('the first message', () => bodies.length === 1);

    const channelBefore = connection.confirmChannel();
    await vhost.closeConnections('integration test: connection loss');
    await broker.close();
    await waitFor(
      'a new connection with the consumer back on it',
      () => connection.isConnected() && connection.confirmChannel() !== channelBefore && durable.isConsuming(),
      { timeoutMs: 15_000 },
    );

    await broker.send('test.reconnect', 'after');
    await waitFor('the message sent after the reconnection', () => bodies.length === 2);
    expect(bodies).toEqual(['before', 'after']);
    expect(await broker.consumers('test.reconnect')).toBe(1);
  });

  it('subscribes once when started while the connection replays its listeners (a listener registered mid-replay)', async () => {
    await broker.queue('test.mid-replay');
    const late = consumer('test.mid-replay', 2, async (delivery) => {
      delivery.ack();
    });
    let started = false;
    const channelBefore = connection.confirmChannel();
    // Runs now, then again in the replay after the reconnection below: there it starts `late`,
    // which registers its own listener while the connection is still replaying the list.
    await connection.onConnected(async () => {
      if (connection.confirmChannel() !== channelBefore && !started) {
        started = true;
        await late.start();
      }
    });
    await vhost.closeConnections('integration test: connection loss');
    await broker.close();
    await waitFor('the late consumer to be consuming', () => started && late.isConsuming(), { timeoutMs: 15_000 });
    await sleep(300);

    expect(await broker.consumers('test.mid-replay')).toBe(1);
  });

  it('comes back by itself after its queue is deleted: the topology is declared again and it resubscribes', async () => {
    const queue = 'test.deleted';
    // Declared with the topology, as every Tasklane queue is.
    connection.addTopology(async (channel) => {
      await channel.assertQueue(queue, { durable: true });
    });
    await connection.redeclareTopology();
    const bodies: string[] = [];
    const durable = consumer(queue, 2, async (delivery) => {
      bodies.push(delivery.message.content.toString());
      delivery.ack();
    });
    await durable.start();
    await broker.send(queue, 'before');
    await waitFor('the first message', () => bodies.length === 1);

    // An operator deletes the queue under the live consumer (the broker cancels the consumer).
    await (await broker.open()).deleteQueue(queue);
    await waitFor(
      'the queue to be there again with the consumer on it',
      // A fresh connection each time: checking a missing queue closes the channel that asked.
      async () => {
        const probe = new Broker(vhost.url);
        try {
          return (await probe.consumers(queue).catch(() => 0)) === 1;
        } finally {
          await probe.close();
        }
      },
      { timeoutMs: 15_000 },
    );

    await broker.send(queue, 'after');
    await waitFor('the message sent after the deletion', () => bodies.length === 2);
    expect(bodies).toEqual(['before', 'after']);
    expect(connection.isConnected()).toBe(true);
  });
});

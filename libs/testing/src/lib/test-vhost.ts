import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TEST_AMQP_BASE_URL, uniqueSuffix } from './services';

const run = promisify(execFile);

export interface TestVhost {
  name: string;
  /** AMQP_URL of this vhost. */
  url: string;
  delete(): Promise<void>;
  /** Adds the vhost again under the same name (with permissions), e.g. after a test deleted it. */
  recreate(): Promise<void>;
  /** Rows of `rabbitmqctl list_queues` / `list_bindings` in this vhost, with the given columns. */
  list<T>(what: 'queues' | 'bindings', columns: string[]): Promise<T[]>;
  /** Ready and unacknowledged message counts of a queue in this vhost; throws if it does not exist. */
  queueCounts(queue: string): Promise<{ ready: number; unacked: number }>;
  /** Has the broker close every client connection to this vhost. */
  closeConnections(reason: string): Promise<void>;
}

/** Runs `rabbitmqctl -q <args>` and returns its standard output. */
async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
  return stdout;
}

async function addVhost(name: string, user: string): Promise<void> {
  await rabbitmqctl('add_vhost', name);
  await rabbitmqctl('set_permissions', '-p', name, user, '.*', '.*', '.*');
}

/**
 * Creates a RabbitMQ virtual host of its own for one test file or run, so that queues of
 * concurrent runs never mix; `delete()` removes it with everything in it.
 */
export async function createTestVhost(label: string): Promise<TestVhost> {
  const name = `tl-${label.replace(/[^a-z0-9-]/gi, '-')}-${uniqueSuffix()}`;
  const user = decodeURIComponent(new URL(TEST_AMQP_BASE_URL).username || 'guest');
  await addVhost(name, user);

  async function list<T>(what: 'queues' | 'bindings', columns: string[]): Promise<T[]> {
    return JSON.parse(await rabbitmqctl(`list_${what}`, '-p', name, ...columns, '--formatter', 'json')) as T[];
  }

  return {
    name,
    url: `${TEST_AMQP_BASE_URL.replace(/\/$/, '')}/${encodeURIComponent(name)}`,
    delete: async () => {
      await rabbitmqctl('delete_vhost', name);
    },
    recreate: () => addVhost(name, user),
    list,
    queueCounts: async (queue) => {
      const found = (
        await list<{ name: string; messages_ready: number; messages_unacknowledged: number }>('queues', [
          'name',
          'messages_ready',
          'messages_unacknowledged',
        ])
      ).find((entry) => entry.name === queue);
      if (!found) {
        throw new Error(`queue ${queue} not found`);
      }
      return { ready: found.messages_ready, unacked: found.messages_unacknowledged };
    },
    closeConnections: async (reason) => {
      await rabbitmqctl('close_all_connections', '--vhost', name, reason);
    },
  };
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TEST_AMQP_BASE_URL, uniqueSuffix } from './services';

const run = promisify(execFile);

export interface TestVhost {
  name: string;
  /** AMQP_URL of this vhost. */
  url: string;
  delete(): Promise<void>;
}

async function rabbitmqctl(...args: string[]): Promise<void> {
  await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
}

/**
 * Creates a RabbitMQ virtual host of its own for one test file or run, so that queues of
 * concurrent runs never mix; `delete()` removes it with everything in it.
 */
export async function createTestVhost(label: string): Promise<TestVhost> {
  const name = `tl-${label.replace(/[^a-z0-9-]/gi, '-')}-${uniqueSuffix()}`;
  const user = decodeURIComponent(new URL(TEST_AMQP_BASE_URL).username || 'guest');
  await rabbitmqctl('add_vhost', name);
  await rabbitmqctl('set_permissions', '-p', name, user, '.*', '.*', '.*');
  return {
    name,
    url: `${TEST_AMQP_BASE_URL.replace(/\/$/, '')}/${encodeURIComponent(name)}`,
    delete: () => rabbitmqctl('delete_vhost', name),
  };
}

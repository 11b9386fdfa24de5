import { connect } from 'amqplib';
import { createConnection } from 'mysql2/promise';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Faults of the machine's shared RabbitMQ and MariaDB (not of one test's vhost or database):
 * restarts and broker settings. Every helper brings the service back — and waits until it
 * answers — before it returns, whatever happened in between.
 *
 * Other test runs on the machine lose their connections during a restart, like every client
 * of a real broker or database would.
 */

const run = promisify(execFile);

const AMQP_BASE_URL = process.env['TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const MYSQL_BASE_URL = process.env['TEST_DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306';
const MARIADBD = '/usr/sbin/mariadbd';
const SERVICE_START_TIMEOUT_MS = 120_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is true; throws after `timeoutMs`. (No @tasklane import: jest's global teardown uses it.) */
async function until(description: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await sleep(250);
  }
}

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 90_000 });
  return stdout.trim();
}

/** RabbitMQ accepts AMQP connections (the `rabbit` application runs). */
export async function rabbitMqAnswers(): Promise<boolean> {
  try {
    const connection = await connect(AMQP_BASE_URL, { timeout: 3_000 });
    connection.on('error', () => undefined);
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/** MariaDB accepts connections and answers a query. */
export async function mariaDbAnswers(): Promise<boolean> {
  try {
    const connection = await createConnection({ uri: MYSQL_BASE_URL, connectTimeout: 3_000 });
    try {
      await connection.query('SELECT 1');
    } finally {
      await connection.end();
    }
    return true;
  } catch {
    return false;
  }
}

async function startRabbitMq(): Promise<void> {
  if (!(await rabbitMqAnswers())) {
    await rabbitmqctl('start_app');
    await rabbitmqctl('await_startup', '--timeout', '120');
  }
  await until('RabbitMQ to accept connections', rabbitMqAnswers, SERVICE_START_TIMEOUT_MS);
}

async function mariadbdRunning(): Promise<boolean> {
  try {
    await run('start-stop-daemon', ['--status', '--exec', MARIADBD]);
    return true;
  } catch {
    return false;
  }
}

async function startMariaDb(): Promise<void> {
  if (!(await mariaDbAnswers())) {
    // A server still shutting down would make `start-stop-daemon --oknodo` start nothing.
    await until('the old mariadbd to exit', async () => !(await mariadbdRunning()), SERVICE_START_TIMEOUT_MS);
    await run('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', MARIADBD]);
  }
  await until(
    'MariaDB to answer',
    async () => (await run('mariadb-admin', ['-uroot', 'ping']).then(() => true)) && mariaDbAnswers(),
    SERVICE_START_TIMEOUT_MS,
  );
}

export interface Outage {
  /** When the service stopped answering and when it answered again (epoch ms). */
  downAt: number;
  upAt: number;
}

/**
 * Restarts the broker: `rabbitmqctl stop_app` (every connection is closed, durable queues and
 * persistent messages are kept), `downMs` without a broker, then `start_app`. Returns once
 * RabbitMQ accepts connections again — also when something failed on the way.
 */
export async function restartRabbitMq(downMs: number): Promise<Outage> {
  let downAt = Date.now();
  try {
    await rabbitmqctl('stop_app');
    downAt = Date.now();
    await sleep(downMs);
  } finally {
    await startRabbitMq();
  }
  return { downAt, upAt: Date.now() };
}

/**
 * Restarts the database server: `mariadb-admin shutdown`, `downMs` without it, then
 * `start-stop-daemon --start … mariadbd`. Returns once MariaDB answers again — also when
 * something failed on the way.
 */
export async function restartMariaDb(downMs: number): Promise<Outage> {
  let downAt = Date.now();
  try {
    await run('mariadb-admin', ['-uroot', 'shutdown'], { timeout: 90_000 });
    downAt = Date.now();
    await until('mariadbd to exit', async () => !(await mariadbdRunning()), 90_000);
    await sleep(downMs);
  } finally {
    await startMariaDb();
  }
  return { downAt, upAt: Date.now() };
}

/** Starts whichever shared service does not answer (a safety net after a failed scenario). */
export async function ensureServicesUp(): Promise<void> {
  await startRabbitMq();
  await startMariaDb();
}

async function brokerSetting(name: string): Promise<string> {
  return rabbitmqctl('eval', `application:get_env(rabbit, ${name}).`);
}

async function setBrokerSetting(name: string, value: number): Promise<void> {
  const reply = await rabbitmqctl('eval', `application:set_env(rabbit, ${name}, ${Math.floor(value)}).`);
  if (reply !== 'ok') {
    throw new Error(`could not set rabbit.${name}: ${reply}`);
  }
}

/**
 * Lowers the broker's `consumer_timeout` (how long a consumer may hold a delivery without
 * acknowledging it) for the channels opened from now on, and the channel tick that checks it
 * (60 s by default, so that a short timeout fires promptly). `restore()` puts back 30 min and
 * 60 s — call it in a finally.
 */
export async function lowerConsumerTimeout(
  timeoutMs: number,
  tickMs = 1_000,
): Promise<{ before: string; restore: () => Promise<void> }> {
  const before = `consumer_timeout ${await brokerSetting('consumer_timeout')}, channel_tick_interval ${await brokerSetting('channel_tick_interval')}`;
  const restore = async (): Promise<void> => {
    await setBrokerSetting('consumer_timeout', 1_800_000);
    await setBrokerSetting('channel_tick_interval', 60_000);
  };
  try {
    await setBrokerSetting('consumer_timeout', timeoutMs);
    await setBrokerSetting('channel_tick_interval', tickMs);
  } catch (error) {
    await restore();
    throw error;
  }
  return { before, restore };
}

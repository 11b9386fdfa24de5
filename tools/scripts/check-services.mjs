// Checks that RabbitMQ and MySQL/MariaDB answer at the configured URLs; on failure, says which
// service, where it looked and how to start it — no stack trace.
import { connect } from 'amqplib';
import { createConnection } from 'mysql2/promise';

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_DATABASE_URL = 'mysql://root@127.0.0.1:3306/tasklane';

function where(url) {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || ''}`;
}

async function checkRabbitMq(url) {
  try {
    const connection = await connect(url, { timeout: 5_000 });
    await connection.close();
    return null;
  } catch (error) {
    return (
      `RabbitMQ is not reachable at ${where(url)} (${error.message}).\n` +
      '  Start it with:  rabbitmq-server -detached\n' +
      '  or point AMQP_URL at a running broker.'
    );
  }
}

async function checkDatabase(url) {
  const server = new URL(url);
  server.pathname = '/';
  try {
    const connection = await createConnection({ uri: server.toString(), connectTimeout: 5_000 });
    await connection.end();
    return null;
  } catch (error) {
    return (
      `MySQL/MariaDB is not reachable at ${where(url)} (${error.message}).\n` +
      '  Start it with:  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd\n' +
      '  or point DATABASE_URL at a running server.'
    );
  }
}

/** Returns the list of problems (empty when both services answer). */
export async function checkServices(env = process.env) {
  const problems = await Promise.all([
    checkRabbitMq(env.AMQP_URL || DEFAULT_AMQP_URL),
    checkDatabase(env.DATABASE_URL || DEFAULT_DATABASE_URL),
  ]);
  return problems.filter((problem) => problem !== null);
}

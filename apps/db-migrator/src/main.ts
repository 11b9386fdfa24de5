/**
 * db-migrator: applies (`up`) or reverts the last (`down`) migration against DATABASE_URL
 * (default mysql://root@127.0.0.1:3306/tasklane), creating the database when it is missing, or
 * recounts the task counts (`recount`, after a TRUNCATE of background_tasks: ADR 0009).
 * `npm run db:migrate` / `npm run db:rollback` / `npm run db:recount` locally; the migration Job
 * in Kubernetes and the one-shot service in Compose run the built image with `node main.js up`.
 */
import 'reflect-metadata';
import { BaseEnv, loadConfig } from '@tasklane/config';
import {
  DatabaseUnavailableError,
  describeDatabaseUrl,
  migrateDown,
  migrateUp,
  recountTaskCounts,
} from '@tasklane/persistence';

async function main(direction: string | undefined): Promise<void> {
  const env = loadConfig(BaseEnv);
  const where = describeDatabaseUrl(env.DATABASE_URL);
  if (direction === 'up') {
    const applied = await migrateUp(env.DATABASE_URL);
    process.stdout.write(
      applied.length === 0 ? `${where}: schema is up to date\n` : `${where}: applied ${applied.join(', ')}\n`,
    );
  } else if (direction === 'down') {
    const reverted = await migrateDown(env.DATABASE_URL);
    process.stdout.write(reverted === null ? `${where}: no migration to revert\n` : `${where}: reverted ${reverted}\n`);
  } else if (direction === 'recount') {
    await recountTaskCounts(env.DATABASE_URL);
    process.stdout.write(`${where}: task counts recounted\n`);
  } else {
    throw new Error('usage: migrate up|down|recount');
  }
}

main(process.argv[2]).catch((error: unknown) => {
  const message =
    error instanceof DatabaseUnavailableError
      ? `cannot reach MySQL/MariaDB (${error.cause instanceof Error ? error.cause.message : error.message}). Is it running? ` +
        'Start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'
      : error instanceof Error
        ? error.message
        : String(error);
  process.stderr.write(`migrate: ${message}\n`);
  process.exit(1);
});

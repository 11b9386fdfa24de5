import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { RESULTS_MD, STARTED_AT_FILE, readScenarioRows, renderTable } from './fault-report';
import { ensureServicesUp } from './shared-services';

/**
 * Jest global teardown of the fault suite: makes sure the shared RabbitMQ and MariaDB run again
 * (whatever a failed scenario left behind), then prints the fault table and writes it to
 * `tmp/faults/results.md`.
 */
export default async function faultsGlobalTeardown(): Promise<void> {
  try {
    await ensureServicesUp();
  } catch (error) {
    process.stderr.write(`faults: could not bring RabbitMQ/MariaDB back: ${(error as Error).message}\n`);
  }
  const startedAt = existsSync(STARTED_AT_FILE) ? Number(readFileSync(STARTED_AT_FILE, 'utf8')) : undefined;
  const table = renderTable(readScenarioRows(), startedAt === undefined ? undefined : Date.now() - startedAt);
  writeFileSync(RESULTS_MD, `# Tasklane fault-injection results\n\n${table}`);
  process.stdout.write(`\nFault table (${relative(process.cwd(), RESULTS_MD)}):\n\n${table}\n`);
}

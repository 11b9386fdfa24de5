import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { FAULTS_DIR, RESULTS_JSONL, RESULTS_MD, STARTED_AT_FILE } from './fault-report';

/** Jest global setup of the fault suite: a fresh results file for this run. */
export default function faultsGlobalSetup(): void {
  mkdirSync(FAULTS_DIR, { recursive: true });
  rmSync(RESULTS_JSONL, { force: true });
  rmSync(RESULTS_MD, { force: true });
  writeFileSync(STARTED_AT_FILE, String(Date.now()));
}

import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The fault table: each scenario appends its row to `tmp/faults/results.jsonl`; the suite's
 * global teardown prints the table and writes it to `tmp/faults/results.md`. Only node modules
 * are imported here: jest's global setup and teardown load this file.
 */

const WORKSPACE_ROOT = resolve(__dirname, '../../../..');
export const FAULTS_DIR = join(WORKSPACE_ROOT, 'tmp', 'faults');
export const RESULTS_JSONL = join(FAULTS_DIR, 'results.jsonl');
export const RESULTS_MD = join(FAULTS_DIR, 'results.md');
export const STARTED_AT_FILE = join(FAULTS_DIR, 'started-at');

export interface ScenarioRow {
  scenario: string;
  accepted: number | null;
  completed: number | null;
  lost: number | null;
  executedTwice: number | null;
  stuck: number | null;
  notes: string[];
  /** Why the scenario failed, if it did. */
  failure?: string;
  durationMs: number;
}

export function recordScenario(row: ScenarioRow): void {
  mkdirSync(FAULTS_DIR, { recursive: true });
  appendFileSync(RESULTS_JSONL, `${JSON.stringify(row)}\n`);
}

export function readScenarioRows(): ScenarioRow[] {
  if (!existsSync(RESULTS_JSONL)) {
    return [];
  }
  return readFileSync(RESULTS_JSONL, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ScenarioRow)
    .sort((a, b) => a.scenario.localeCompare(b.scenario));
}

const shorten = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}…` : text);
const cell = (value: number | null): string => (value === null ? '—' : String(value));
const escape = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The table as Markdown (readable as plain text too). */
export function renderTable(rows: ScenarioRow[], totalMs?: number): string {
  const lines = [
    '| scenario | accepted | completed | lost | executed twice | stuck | notes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((row) => {
      const notes = [
        ...(row.failure ? [`**FAILED**: ${shorten(row.failure, 600)}`] : []),
        ...row.notes,
        `${Math.round(row.durationMs / 1000)} s`,
      ];
      return `| ${escape(row.scenario)} | ${cell(row.accepted)} | ${cell(row.completed)} | ${cell(row.lost)} | ${cell(row.executedTwice)} | ${cell(row.stuck)} | ${escape(notes.join('; '))} |`;
    }),
  ];
  const failed = rows.filter(
    (row) => row.failure !== undefined || row.lost !== 0 || row.executedTwice !== 0 || row.stuck !== 0,
  );
  const summary = [
    `${rows.length} scenario(s), ${failed.length} failed`,
    ...(totalMs === undefined ? [] : [`suite time ${Math.round(totalMs / 1000)} s`]),
  ].join(', ');
  return `${lines.join('\n')}\n\n${summary}\n`;
}

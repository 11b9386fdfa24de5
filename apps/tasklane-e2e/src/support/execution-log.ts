import { existsSync, readFileSync } from 'node:fs';

/** One finished execution of `diagnostic.sleep`, as the handler appended it to DIAGNOSTIC_EXECUTION_LOG. */
export interface Execution {
  taskId: string;
  retryCount: number;
  pid: number;
}

/**
 * Reads the execution log of a system (`task_id retry_count pid` per finished execution) into
 * the executions of each task. This count does not come from the status table: a task the table
 * calls `completed` that never ran, or a task that ran twice, shows up here.
 */
export function readExecutions(path: string): Map<string, Execution[]> {
  const executions = new Map<string, Execution[]>();
  if (!existsSync(path)) {
    return executions;
  }
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [taskId, retryCount, pid] = line.trim().split(/\s+/);
    if (!taskId || retryCount === undefined || pid === undefined) {
      continue;
    }
    const list = executions.get(taskId) ?? [];
    list.push({ taskId, retryCount: Number(retryCount), pid: Number(pid) });
    executions.set(taskId, list);
  }
  return executions;
}

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, inside parentheses).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
  return (ticks * 1_000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size now and at its peak (MiB), from /proc/<pid>/status. */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1_024, peak: kib('VmHWM') / 1_024 };
}

/** Pids of the processes whose command name is one of `names` (e.g. the database and the broker). */
export function pidsNamed(names: readonly string[]): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (names.includes(comm)) {
      found.set(comm, [...(found.get(comm) ?? []), Number(entry)]);
    }
  }
  return found;
}

/**
 * CPU used by a set of processes between two snapshots. Counted per pid: a process that exits
 * meanwhile (a `rabbitmqctl` run is a short-lived `beam.smp` too) counts for nothing instead of
 * taking its whole earlier CPU time off its group.
 */
export class CpuMeter {
  private readonly start = new Map<number, number>();

  constructor(private readonly pids: ReadonlyMap<string, readonly number[]>) {
    for (const list of pids.values()) {
      for (const pid of list) {
        const used = readCpuMs(pid);
        if (used !== undefined) {
          this.start.set(pid, used);
        }
      }
    }
  }

  /** CPU ms used by each named group since the meter was created. */
  elapsed(): Record<string, number> {
    const used: Record<string, number> = {};
    for (const [name, list] of this.pids) {
      used[name] = list.reduce((total, pid) => {
        const start = this.start.get(pid);
        const now = readCpuMs(pid);
        return start === undefined || now === undefined ? total : total + (now - start);
      }, 0);
    }
    return used;
  }
}

/** {@link cpuMs}, or undefined once the process is gone. */
function readCpuMs(pid: number): number | undefined {
  try {
    return cpuMs(pid);
  } catch {
    return undefined;
  }
}

/**
 * Established TCP connections whose local port is `port` (/proc/net/tcp and tcp6): on a
 * listening port, the connections the server has accepted and holds open.
 */
export function establishedOnPort(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table: string;
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl, local_address (hex ip:port), rem_address, st (01 = ESTABLISHED), …
      if (fields.length > 3 && fields[1].endsWith(`:${hexPort}`) && fields[3] === '01') {
        count += 1;
      }
    }
  }
  return count;
}

import { readdirSync, readFileSync } from "node:fs";

export type Role = "main" | "worker" | "nats" | "postgres" | "redis";
export type CpuByRole = Partial<Record<Role, number>>;

const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  cpuSeconds: number;
}

function stat(pid: string): ProcStat | undefined {
  try {
    // The command name is in parentheses and may contain spaces: fields are counted after its closing one.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // Own user and system time, and that of waited-for children (postgres reaps its own helpers).
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    return { ppid: Number(fields[1]), cpuSeconds: ticks / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

function roleOf(pid: string): Role | undefined {
  let cmd: string;
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return undefined;
  }
  if (cmd.includes("nats-server")) return "nats";
  if (cmd.includes("redis-server")) return "redis";
  if (cmd.startsWith("postgres") || /\/postgres$/.test(cmd.split(" ")[0] ?? "")) return "postgres";
  // A coordinator replica is a coordinator, as this process is.
  if (cmd.includes("/bench/workers/coordinator-replica")) return "main";
  if (/\/bench\/(peers\/)?workers\//.test(cmd)) return "worker";
  return undefined;
}

/**
 * CPU seconds used so far by this process ("main": the coordinator in every Tessera scenario, with its replica
 * processes when there are several, the producer in the raw ones) and by its descendants, by role. Linux only (/proc); elsewhere undefined, and the report
 * leaves the column out.
 */
let postgresDataDir: string | undefined;

/** The bench's Postgres cluster, whose processes count as "postgres". */
export function watchPostgres(dataDir: string): void {
  postgresDataDir = dataDir;
}

export function cpuByRole(): CpuByRole | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const stats = new Map<number, ProcStat>();
  for (const pid of pids) {
    const s = stat(pid);
    if (s !== undefined) stats.set(Number(pid), s);
  }
  // pg_ctl daemonizes the postmaster, so it is not our descendant: it is found by its data directory.
  const roots = new Set<number>([process.pid]);
  if (postgresDataDir !== undefined) {
    for (const pid of stats.keys()) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(postgresDataDir)) roots.add(pid);
      } catch {
        // gone
      }
    }
  }
  const counted = (pid: number): boolean => {
    if (roots.has(pid)) return pid !== process.pid;
    for (let p = stats.get(pid)?.ppid ?? 0, hops = 0; p > 0 && hops < 16; hops++) {
      if (roots.has(p)) return true;
      p = stats.get(p)?.ppid ?? 0;
    }
    return false;
  };
  const out: CpuByRole = {};
  const usage = process.cpuUsage();
  out.main = (usage.user + usage.system) / 1e6;
  for (const [pid, s] of stats) {
    if (!counted(pid)) continue;
    const role = roleOf(String(pid));
    if (role !== undefined) out[role] = (out[role] ?? 0) + s.cpuSeconds;
  }
  return out;
}

/** Microseconds of CPU per job by role between two readings (a process started in between counts from 0). */
export function cpuPerJob(
  before: CpuByRole | undefined,
  after: CpuByRole | undefined,
  jobs: number,
): CpuByRole | undefined {
  if (before === undefined || after === undefined) return undefined;
  const out: CpuByRole = {};
  for (const role of Object.keys(after) as Role[])
    out[role] = Math.round((((after[role] ?? 0) - (before[role] ?? 0)) * 1e6) / jobs);
  return out;
}

// Samples of the machine for heartbeats: CPU (the whole system from os.cpus() deltas, this process from
// process.cpuUsage() deltas), memory, the content store's filesystem (statfs) and uptime.
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';

export interface SystemSample {
  /** busy share of all CPUs since the previous sample, 0..100 */
  cpuPercent: number;
  /** this process's CPU time since the previous sample, in % of one CPU (can exceed 100) */
  processCpuPercent: number;
  memory: { usedBytes: number; totalBytes: number };
  /** of the filesystem holding the sampled path */
  disk: { usedBytes: number; freeBytes: number };
  /** seconds since this process started */
  uptimeSeconds: number;
}

export interface SystemSamplerOptions {
  /** a path on the filesystem to report (the content store's directory) */
  path: string;
}

export type SystemSampler = () => Promise<SystemSample>;

interface CpuTimes {
  busy: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    total += t;
    busy += t - c.times.idle;
  }
  return { busy, total };
}

/** Memory in use as the kernel sees it: total minus MemAvailable (free alone counts caches as used). */
async function memory(): Promise<SystemSample['memory']> {
  const totalBytes = os.totalmem();
  try {
    const text = await readFile('/proc/meminfo', 'utf8');
    const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(text);
    if (m) return { usedBytes: Math.max(0, totalBytes - Number(m[1]) * 1024), totalBytes };
  } catch {
    // not Linux: fall back to free memory
  }
  return { usedBytes: Math.max(0, totalBytes - os.freemem()), totalBytes };
}

/**
 * A sampler whose CPU figures cover the time since its previous call (the first call: since it was
 * created). Each call may reject (e.g. the path vanished); the caller keeps its last good sample.
 */
export function createSystemSampler(opts: SystemSamplerOptions): SystemSampler {
  let prevCpu = cpuTimes();
  let prevProc = process.cpuUsage();
  let prevAt = process.hrtime.bigint();
  let lastCpu = 0;
  let lastProc = 0;

  return async () => {
    const cpu = cpuTimes();
    const proc = process.cpuUsage();
    const at = process.hrtime.bigint();
    const dTotal = cpu.total - prevCpu.total;
    if (dTotal > 0) lastCpu = clamp(((cpu.busy - prevCpu.busy) / dTotal) * 100, 0, 100);
    const wallUs = Number(at - prevAt) / 1_000;
    if (wallUs > 0) lastProc = clamp(((proc.user - prevProc.user + proc.system - prevProc.system) / wallUs) * 100, 0, 100 * 1024);
    prevCpu = cpu;
    prevProc = proc;
    prevAt = at;

    const [mem, fs] = await Promise.all([memory(), statfs(opts.path)]);
    return {
      cpuPercent: round2(lastCpu),
      processCpuPercent: round2(lastProc),
      memory: mem,
      disk: {
        usedBytes: Math.max(0, (fs.blocks - fs.bfree) * fs.bsize),
        freeBytes: Math.max(0, fs.bavail * fs.bsize),
      },
      uptimeSeconds: Math.round(process.uptime()),
    };
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

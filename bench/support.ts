// Shared by the benchmarks: result output, percentiles, process CPU time, service processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** user+system CPU seconds of a process so far, from /proc */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function writeResult(name: string, result: Record<string, unknown>): Promise<void> {
  const line = JSON.stringify({ bench: name, at: new Date().toISOString(), ...result });
  await mkdir(join(repoRoot, 'bench', 'results'), { recursive: true });
  await writeFile(join(repoRoot, 'bench', 'results', `${name}.json`), line + '\n');
  process.stdout.write(line + '\n');
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** Run a service's main.ts as its own process, like `uplink dev` does. */
export function startService(entry: string, env: Record<string, string>): ChildProcess & { stopped: Promise<void> } {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  // BENCH_CPU_PROF=<dir>: each service writes a V8 CPU profile there when it exits
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, '--conditions=uplink-source', '--import', tsx, join(repoRoot, entry)], {
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stopped = new Promise<void>((r) => child.once('exit', () => r()));
  return Object.assign(child, { stopped });
}

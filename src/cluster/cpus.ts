/**
 * How many CPUs this process may use, for `workers: auto`: the CPUs its
 * affinity mask allows (os.availableParallelism, sched_getaffinity on Linux),
 * cut to the cgroup CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us / cfs_period_us)
 * of its own cgroup and every ancestor. A container limited to 1.5 CPUs gets 1
 * worker, as Go's automaxprocs rounds: a second worker would only be throttled.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export type ReadText = (path: string) => string | null;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** The cgroup path and its ancestors, longest first: /a/b → /a/b, /a, '' */
function selfAndAncestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push(i === 0 ? '' : `/${parts.slice(0, i).join('/')}`);
  return out;
}

/** v2 "max 100000" or "150000 100000" → CPUs, or null when unlimited or unreadable */
function quotaV2(text: string | null): number | null {
  const [quota, period] = (text ?? '').trim().split(/\s+/);
  if (!quota || quota === 'max' || !period) return null;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : null;
}

function quotaV1(quotaText: string | null, periodText: string | null): number | null {
  const q = Number((quotaText ?? '').trim());
  const p = Number((periodText ?? '').trim());
  return Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0 ? q / p : null;
}

/** The smallest CPU quota over this process's cgroups, in CPUs (may be fractional); null = none. */
export function cgroupCpuQuota(read: ReadText = readText): number | null {
  const lines = (read('/proc/self/cgroup') ?? '').split('\n').filter(Boolean);
  const quotas: number[] = [];
  for (const line of lines) {
    const [, controllers = '', path = '/'] = line.split(':');
    if (controllers === '') {
      // cgroup v2: the unified hierarchy
      for (const dir of selfAndAncestors(path)) {
        const quota = quotaV2(read(`/sys/fs/cgroup${dir}/cpu.max`));
        if (quota !== null) quotas.push(quota);
      }
    } else if (controllers.split(',').includes('cpu')) {
      // cgroup v1: mounted as cpu or cpu,cpuacct; without a cgroup namespace the container's own group may be the mount's root
      for (const mount of new Set([`/sys/fs/cgroup/${controllers}`, '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'])) {
        for (const dir of new Set([...selfAndAncestors(path), ''])) {
          const quota = quotaV1(read(`${mount}${dir}/cpu.cfs_quota_us`), read(`${mount}${dir}/cpu.cfs_period_us`));
          if (quota !== null) quotas.push(quota);
        }
      }
    }
  }
  return quotas.length > 0 ? Math.min(...quotas) : null;
}

/** Workers for `workers: auto`: at least 1. */
export function usableCpus(options: { affinity?: number; read?: ReadText } = {}): number {
  const affinity = options.affinity ?? availableParallelism();
  const quota = cgroupCpuQuota(options.read);
  const cpus = quota === null ? affinity : Math.min(affinity, Math.floor(quota));
  return Math.max(1, cpus);
}

/** The number of workers a config's `workers` value means here. */
export function resolveWorkers(workers: number | 'auto', options?: { affinity?: number; read?: ReadText }): number {
  return workers === 'auto' ? usableCpus(options) : workers;
}

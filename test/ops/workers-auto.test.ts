// workers: auto counts the CPUs this process may use: the affinity mask, cut to
// the cgroup CPU quota (v2 cpu.max, v1 cfs quota/period) of its cgroup and its
// ancestors, rounded down, at least 1. The cgroup files are injected.
import t from 'tap';
import { cgroupCpuQuota, resolveWorkers, usableCpus } from '../../src/cluster/cpus.js';

const files =
  (entries: Record<string, string>) =>
  (path: string): string | null =>
    entries[path] ?? null;

t.test('cgroup v2: the quota of the process cgroup, or of an ancestor, whichever is smaller', async (t) => {
  const read = files({
    '/proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
    '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000\n',
    '/sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000\n',
  });
  t.equal(cgroupCpuQuota(read), 1.5);
  t.equal(usableCpus({ affinity: 8, read }), 1, 'a container limited to 1.5 CPUs gets 1 worker');
  t.equal(
    usableCpus({ affinity: 8, read: files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '100000 100000\n' }) }),
    1,
    'limited to 1 CPU: 1 worker',
  );
  t.equal(usableCpus({ affinity: 8, read: files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '400000 100000\n' }) }), 4);
  t.equal(
    usableCpus({ affinity: 2, read: files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '400000 100000\n' }) }),
    2,
    'affinity is the bound when it is smaller',
  );
});

t.test('cgroup v1: cfs quota over period; -1 is no limit', async (t) => {
  const limited = files({
    '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n1:memory:/docker/abc\n',
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '200000\n',
    '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
  });
  t.equal(usableCpus({ affinity: 16, read: limited }), 2);
  const unlimited = files({
    '/proc/self/cgroup': '2:cpu:/\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
  });
  t.equal(cgroupCpuQuota(unlimited), null);
  t.equal(usableCpus({ affinity: 3, read: unlimited }), 3, 'no quota: the affinity mask decides');
});

t.test('nothing readable: the affinity mask; never fewer than 1; an integer is taken as written', async (t) => {
  t.equal(usableCpus({ affinity: 6, read: () => null }), 6);
  t.equal(
    usableCpus({ affinity: 6, read: files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '10000 100000\n' }) }),
    1,
    'a tenth of a CPU still gets one worker',
  );
  t.equal(resolveWorkers(3, { affinity: 1, read: () => null }), 3);
  t.equal(resolveWorkers('auto', { affinity: 5, read: () => null }), 5);
  t.ok(usableCpus() >= 1, 'this machine: at least one');
});

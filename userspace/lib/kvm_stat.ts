// kvm_stat's reading side: the counters kvm publishes, per VM and in total.
//
//   Linux:   open + read of /sys/kernel/debug/kvm/<name> and .../kvm/<pid>-<fd>/<name>,
//            text ("%llu\n")
//   FreeBSD: __sysctlbyname("debug.kvm.<name>") and "debug.kvm.<pid>-<fd>.<name>",
//            an 8-byte little-endian u64 (the shim's debugfs-over-sysctl mapping,
//            compat/linuxkpi/linux_debugfs.ts)
//
// <pid> is what kvm saw as current->pid when the VM was created: the creating thread's
// id (gettid on Linux; on FreeBSD the thread id LinuxKPI hands out, from thr_self).
// The names are kvm's debugfs_entries; kvm_stat lists the directory instead, which the
// sysctl side has no call for in this model, so both sides use the known list.

import type { Libc } from "../libc/libc.js";

export const KVM_STAT_NAMES: readonly string[] = [
  "pf_fixed", "pf_guest", "tlb_flush", "invlpg", "exits", "io_exits", "mmio_exits", "signal_exits", "irq_window_exits",
  "halt_exits", "request_irq_exits", "irq_exits", "mmu_flooded",
];

const DEBUGFS_KVM = "/sys/kernel/debug/kvm";
const SYSCTL_KVM = "debug.kvm";

/** One counter: `dir` null for the total, else a per-VM directory name. null when it
 *  cannot be read (errno set). */
export async function kvm_stat_read(c: Libc, dir: string | null, name: string): Promise<bigint | null> {
  if (c.abi.name === "freebsd") {
    const v = await c.sysctlbyname(dir === null ? `${SYSCTL_KVM}.${name}` : `${SYSCTL_KVM}.${dir}.${name}`, 8);
    if (v === null || v.length !== 8) return null;
    return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
  }
  const fd = await c.open(dir === null ? `${DEBUGFS_KVM}/${name}` : `${DEBUGFS_KVM}/${dir}/${name}`, c.abi.O_RDONLY);
  if (fd < 0) return null;
  const b = await c.read(fd, 32);
  await c.close(fd);
  if (b === null) return null;
  const t = new TextDecoder().decode(b).trim();
  return /^\d+$/.test(t) ? BigInt(t) : null;
}

/** The per-VM directory of a VM this thread created with KVM_CREATE_VM -> vm_fd. */
export async function kvm_stat_vm_dir(c: Libc, vm_fd: number): Promise<string> {
  return `${await c.thread_id()}-${vm_fd}`;
}

export type KvmStatValues = Record<string, bigint>;

/** Every counter of one directory (null: the totals); null if any is unreadable. */
export async function kvm_stat_read_all(c: Libc, dir: string | null): Promise<KvmStatValues | null> {
  const out: KvmStatValues = {};
  for (const n of KVM_STAT_NAMES) {
    const v = await kvm_stat_read(c, dir, n);
    if (v === null) return null;
    out[n] = v;
  }
  return out;
}

/** `kvm_stat -1`-like text: a header per section, then "name  value" lines sorted by
 *  name, the names padded to one column. */
export function kvm_stat_format(sections: readonly { title: string; values: KvmStatValues }[]): string {
  const w = Math.max(...KVM_STAT_NAMES.map((n) => n.length));
  let s = "";
  for (const sec of sections) {
    s += `${sec.title}\n`;
    for (const n of Object.keys(sec.values).sort()) s += `  ${n.padEnd(w)}  ${sec.values[n].toString().padStart(10)}\n`;
  }
  return s;
}

/** What `lkvm stat` prints from inside the VMM once its guest has ended (the VM still
 *  exists): this VM's counters, then the totals over every live VM, on fd 1. 0, or 1
 *  with a message on fd 2 when a counter cannot be read. */
export async function kvm_stat_report(c: Libc, vm_fd: number): Promise<number> {
  const dir = await kvm_stat_vm_dir(c, vm_fd);
  const vm = await kvm_stat_read_all(c, dir);
  const total = vm === null ? null : await kvm_stat_read_all(c, null);
  if (vm === null || total === null) {
    const where = c.abi.name === "freebsd" ? `sysctl ${SYSCTL_KVM}` : DEBUGFS_KVM;
    await c.puts(2, `lkvm stat: cannot read kvm statistics (${where}): ${c.errname()}\n`);
    return 1;
  }
  await c.puts(1, kvm_stat_format([{ title: `vm ${dir}`, values: vm }, { title: "total", values: total }]));
  return 0;
}

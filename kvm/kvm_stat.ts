// The statistics kvm_stat reads (debugfs_entries in kvm_main.c): one debugfs file per
// counter under "kvm" giving the sum over every live VM, and, as KVM does since 4.14,
// a directory "<pid>-<vm fd>" per VM with the same files for that VM alone. On
// host-linux they are /sys/kernel/debug/kvm/...; through the FreeBSD shim the sysctl
// OIDs debug.kvm.... Totals are over live VMs only (a VM's counts leave the totals when
// it is destroyed), as in Linux.
//
// Locking: kvm_lock (spinlock) protects vm_list while a total is summed. The counters
// themselves are updated without a lock by the vcpu that owns them (the 2007 driver's
// "++vcpu->kvm->stat.x"), so a read may be a little stale, never torn (one JS number).
// The dentries are created and removed by the module's init/exit and by the VM's
// creation and destruction, which may sleep.

import { debugfs_create_dir, debugfs_create_file, debugfs_remove_recursive, type dentry, type simple_attribute } from "../compat/linux/debugfs.js";
import { spin_lock, spin_unlock } from "../compat/linux/spinlock.js";
import { get_current } from "../compat/linux/sched.js";
import { pr_err } from "../compat/linux/printk.js";
import { kvm_globals } from "./kvm_globals.js";
import type { kvm, kvm_stat_counters } from "./kvm_host.js";

/** debugfs_entries[], in kvm_main.c's order. */
export const KVM_STAT_NAMES: readonly (keyof kvm_stat_counters)[] = [
  "pf_fixed", "pf_guest", "tlb_flush", "invlpg", "exits", "io_exits", "mmio_exits", "signal_exits", "irq_window_exits",
  "halt_exits", "request_irq_exits", "irq_exits", "mmu_flooded",
];

/** stat_get: the sum of one counter over vm_list (data is the counter's name). */
const stat_fops: simple_attribute = {
  async get(data: unknown): Promise<bigint> {
    const g = kvm_globals();
    const name = data as keyof kvm_stat_counters;
    let sum = 0;
    await spin_lock(g.kvm_lock);
    for (const kvm of g.vm_list) sum += kvm.stat[name];
    spin_unlock(g.kvm_lock);
    return BigInt(sum);
  },
};

/** vm_stat_get: one counter of one VM (data is { kvm, name }). */
const vm_stat_fops: simple_attribute = {
  get(data: unknown): bigint {
    const d = data as { kvm: kvm; name: keyof kvm_stat_counters };
    return BigInt(d.kvm.stat[d.name]);
  },
};

/** kvm_init_debug: the "kvm" directory with the totals. */
export function kvm_init_debug(): void {
  const g = kvm_globals();
  const dir = debugfs_create_dir("kvm", null);
  if (dir === null) {
    pr_err("kvm: cannot create the debugfs directory; statistics are not available");
    return;
  }
  g.debugfs_dir = dir;
  for (const name of KVM_STAT_NAMES) debugfs_create_file(name, 0o444, dir, name, stat_fops);
}

/** kvm_exit_debug: remove "kvm" and every per-VM directory below it. */
export function kvm_exit_debug(): void {
  const g = kvm_globals();
  debugfs_remove_recursive(g.debugfs_dir);
  g.debugfs_dir = null;
}

/** kvm_create_vm_debugfs: "<pid>-<fd>" with the VM's own counters. Failure is not an
 *  error for the VM (Linux goes on without per-VM statistics). */
export function kvm_create_vm_debugfs(kvm: kvm, fd: number): void {
  const parent = kvm_globals().debugfs_dir;
  if (parent === null) return;
  const dir = debugfs_create_dir(`${get_current().pid}-${fd}`, parent);
  if (dir === null) return;
  kvm.debugfs_dentry = dir;
  for (const name of KVM_STAT_NAMES) debugfs_create_file(name, 0o444, dir, { kvm, name }, vm_stat_fops);
}

/** kvm_destroy_vm_debugfs. */
export function kvm_destroy_vm_debugfs(kvm: kvm): void {
  const d: dentry | null = kvm.debugfs_dentry;
  kvm.debugfs_dentry = null;
  debugfs_remove_recursive(d);
}

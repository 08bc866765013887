// EXPORT_SYMBOL: the Linux kernel API that a module such as kvm links against.
//
// kvm/ imports the functions of compat/linux/<header>.ts, the way C code includes
// <linux/header.h>. Each of those functions calls through this table, which is bound
// at run time to the kernel the current CPU runs: host-linux exports it natively, and
// on host-freebsd the linuxkpi kld exports the shim's implementation (compat/linuxkpi).
// A module loaded into a kernel that does not export the table fails to link, as a
// kld with unresolved symbols does.

import { current_cpu } from "../../machine/engine.js";
import type { Hpa, Kva, Pfn, Uva } from "../../machine/addr.js";
import type { dentry, simple_attribute } from "./debugfs_types.js";
import type { gfp_t } from "./gfp_types.js";
import type { file, file_operations, inode } from "./fs_types.js";
import type { miscdevice } from "./miscdevice_types.js";
import type { page } from "./mm_types.js";
import type { mutex, semaphore, spinlock_t } from "./lock_types.js";
import type { completion } from "./completion_types.js";
import type { task_struct } from "./sched_types.js";

/** Name under which a kernel's symbol table holds the Linux API. */
export const LINUX_KERNEL_API_SYMBOL = "linux_kernel_api";

export interface linux_kernel_api {
  // <linux/gfp.h>, <linux/mm.h>: page allocator. alloc_pages may sleep unless the
  // flags forbid it; it returns null when memory is exhausted.
  alloc_pages(gfp_mask: gfp_t, order: number): Promise<page | null>;
  __free_pages(p: page, order: number): void;
  page_address(p: page): Kva;
  page_to_pfn(p: page): Pfn;
  pfn_to_page(pfn: Pfn): page;
  virt_to_page(addr: Kva): page;
  __pa(addr: Kva): Hpa;
  __va(addr: Hpa): Kva;
  /** get_user_pages_fast: pin the pages backing [start, start + nr_pages pages) of the
   *  current process; returns how many were pinned (into pages[]) or -errno. */
  get_user_pages_fast(start: Uva, nr_pages: number, write: boolean, pages: page[]): Promise<number>;
  /** Drop a reference taken by get_user_pages_fast. */
  put_page(p: page): void;
  /** vm_mmap (mm/util.c): map `len` bytes of `file` at byte offset `offset` into the
   *  current process, as mmap(2) would (the file's ->mmap sets the mapping up); the
   *  user address, or -errno. addr 0 lets the kernel choose. prot: PROT_*, flag:
   *  MAP_SHARED or MAP_PRIVATE (<linux/mman.h>). */
  vm_mmap(file: file, addr: number, len: number, prot: number, flag: number, offset: number): Promise<number>;
  /** vm_munmap: unmap [start, start + len) of the current process; 0 or -errno. */
  vm_munmap(start: Uva, len: number): Promise<number>;

  // <linux/slab.h>
  kmalloc(size: number, flags: gfp_t): Promise<Kva | null>;
  kfree(addr: Kva | null): void;
  /** ksize: usable size of a kmalloc'ed object. */
  ksize(addr: Kva): number;

  // The model's stand-in for dereferencing a kernel pointer: a load or store through
  // the kernel's page tables (direct map or kernel map). Out-of-range addresses oops.
  kmem_load(addr: Kva, dst: Uint8Array): void;
  kmem_store(addr: Kva, src: Uint8Array): void;

  // <linux/spinlock.h>, <linux/mutex.h>
  spin_lock_init(lock: spinlock_t, name: string): void;
  /** Spins (preemption off) while another CPU holds the lock. */
  spin_lock(lock: spinlock_t): void | Promise<void>;
  spin_unlock(lock: spinlock_t): void;
  mutex_init(lock: mutex, name: string): void;
  mutex_lock(lock: mutex): Promise<void>;
  /** 0, or -EINTR when a signal arrived while waiting. */
  mutex_lock_interruptible(lock: mutex): Promise<number>;
  mutex_unlock(lock: mutex): void;
  mutex_destroy(lock: mutex): void;
  /** <linux/semaphore.h>: a semaphore with an initial count; down sleeps while it is 0. */
  sema_init(sem: semaphore, val: number, name: string): void;
  down(sem: semaphore): Promise<void>;
  up(sem: semaphore): void;

  // <linux/delay.h>: busy-wait delays; time passes on this CPU, nothing else runs on it
  // (legal under a spinlock; msleep would sleep).
  ndelay(nsecs: number): Promise<void>;
  udelay(usecs: number): Promise<void>;
  mdelay(msecs: number): Promise<void>;
  // <linux/completion.h>: a count of events; complete() adds one and wakes one waiter,
  // complete_all() makes it done for every present and future waiter until
  // reinit_completion(); each wait consumes one event, sleeping until there is one.
  init_completion(x: completion): void;
  reinit_completion(x: completion): void;
  complete(x: completion): void;
  complete_all(x: completion): void;
  wait_for_completion(x: completion): Promise<void>;
  /** 0, or -ERESTARTSYS when a signal interrupted the wait. */
  wait_for_completion_interruptible(x: completion): Promise<number>;
  /** 0 if `timeout` jiffies passed first, else the jiffies left (at least 1). */
  wait_for_completion_timeout(x: completion, timeout: number): Promise<number>;
  /** Consume an event if there is one, without sleeping. */
  try_wait_for_completion(x: completion): boolean;
  /** An event is there: a wait would not sleep. */
  completion_done(x: completion): boolean;
  // <linux/jiffies.h>: milliseconds as jiffies of this kernel's HZ, rounded up.
  msecs_to_jiffies(m: number): number;

  // <linux/sched.h>, <linux/preempt.h>, <linux/smp.h>
  get_current(): task_struct;
  signal_pending(t: task_struct): boolean;
  /** Preemption point: reschedule if another thread should run. May sleep. */
  cond_resched(): Promise<void>;
  need_resched(): boolean;
  /** Debug check that the caller may sleep; oopses in atomic context. */
  might_sleep(where: string): void;
  preempt_disable(): void;
  preempt_enable(): void;
  /** The kernel-preemption point on return from an interrupt taken in kernel mode
   *  (irqentry_exit_cond_resched): if a reschedule is due and preemption is not
   *  disabled, the task is preempted here and may resume on another CPU. */
  irqentry_exit_cond_resched(): Promise<void>;
  /** <linux/irqflags.h>: CLI / STI on this CPU; enabling takes pending interrupts at once
   *  (KVM disables interrupts across VM entry and re-enables them after the exit, which
   *  is when the host timer interrupt that caused an external-interrupt exit runs). */
  local_irq_disable(): void;
  local_irq_enable(): void;
  /** Disable preemption and return this CPU's id (held from vcpu_load to vcpu_put). */
  get_cpu(): number;
  put_cpu(): void;
  smp_processor_id(): number;
  num_online_cpus(): number;
  /** Run func(info) on every online CPU in interrupt context (IPI), including this one;
   *  with wait, return after all have run. Waiting busy-waits (it does not sleep), so
   *  the caller may have preemption disabled, but not interrupts. */
  on_each_cpu(func: (info: unknown) => void, info: unknown, wait: boolean): Promise<void>;
  /** Run func(info) on one CPU in interrupt context; 0 or -ENXIO for an offline CPU.
   *  Busy-waits like on_each_cpu. */
  smp_call_function_single(cpu: number, func: (info: unknown) => void, info: unknown, wait: boolean): Promise<number>;

  // <linux/miscdevice.h>, <linux/fs.h>, <linux/anon_inodes.h>
  misc_register(misc: miscdevice): Promise<number>;
  misc_deregister(misc: miscdevice): Promise<void>;
  /** Create a file on an anonymous inode and install it in a new fd of the current
   *  process; returns the fd or -errno. */
  anon_inode_getfd(name: string, fops: file_operations, priv: unknown, flags: number): Promise<number>;
  /** Take a reference to the file behind fd in the current process, or null. */
  fget(fd: number): file | null;
  /** Drop a file reference; the last one calls fops.release. */
  fput(f: file): Promise<void>;
  /** The inode a file refers to. */
  file_inode(f: file): inode;

  // <linux/uaccess.h>: both return the number of bytes NOT copied.
  copy_to_user(to: Uva, from: Uint8Array, n: number): Promise<number>;
  copy_from_user(to: Uint8Array, from: Uva, n: number): Promise<number>;

  // <linux/printk.h>
  printk(level: string, msg: string): void;

  // <linux/debugfs.h> (2.6.22: NULL on failure; a NULL parent is the debugfs root)
  debugfs_create_dir(name: string, parent: dentry | null): dentry | null;
  debugfs_create_file(name: string, mode: number, parent: dentry | null, data: unknown, fops: simple_attribute): dentry | null;
  debugfs_remove_recursive(d: dentry | null): void;

  // <linux/module.h>: a loaded module's static storage (.data/.bss), one instance per
  // load of the module named `module_name` into this kernel; created by `init` on first
  // use and discarded when the module is unloaded.
  module_data<T>(module_name: string, init: () => T): T;
  /** <linux/moduleparam.h>: a parameter's value as set when the module was loaded. */
  module_param_value(module_name: string, name: string): boolean | number;
}

/** The Linux API exported by the kernel running on the current CPU. */
export function linux_api(): linux_kernel_api {
  const sym = current_cpu().machine.kernel_symbols?.(LINUX_KERNEL_API_SYMBOL);
  if (sym === undefined || sym === null)
    throw new Error(`link error: undefined symbol '${LINUX_KERNEL_API_SYMBOL}' (this kernel exports no Linux API; is linuxkpi loaded?)`);
  return sym as linux_kernel_api;
}

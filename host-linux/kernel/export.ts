// EXPORT_SYMBOL: the Linux kernel API this kernel exports to modules, published in the
// machine's symbol table under "linux_kernel_api". The interface is Linux's own
// declaration of these functions (one line per prototype of the headers named);
// every entry binds to this kernel's native implementation.

import type { Hpa, Kva, Pfn, Uva } from "../../machine/addr.js";
import { PAGE_SIZE } from "../../machine/addr.js";
import type { linux_kernel } from "../init/main.js";
import type { gfp_t } from "../include/linux/gfp_types.js";
import type { file as module_file, file_operations, inode as module_inode } from "../include/linux/fs_types.js";
import type { miscdevice } from "../include/linux/miscdevice_types.js";
import type { page } from "../include/linux/mm_types.js";
import type { mutex, semaphore, spinlock_t } from "../include/linux/lock_types.js";
import type { completion } from "../include/linux/completion_types.js";
import type { task_struct as module_task_struct } from "../include/linux/sched_types.js";
import { PAGE_OFFSET, __pa_raw, __va_raw } from "../arch/x86/include/asm/page.js";
import { get_current, this_cpu } from "../arch/x86/kernel/percpu.js";
import { BUG } from "./panic.js";
import { KERN_ERR, printk } from "./printk/printk.js";
import { __free_pages, alloc_pages, page_address, page_to_pfn, pfn_to_page, put_page } from "../mm/page_alloc.js";
import { kfree, kmalloc, ksize } from "../mm/slab.js";
import { get_user_pages_fast } from "../mm/gup.js";
import { vm_mmap, vm_munmap } from "../mm/mmap.js";
import { spin_lock, spin_lock_init, spin_unlock } from "./locking/spinlock.js";
import { mdelay, ndelay, udelay } from "../arch/x86/lib/delay.js";
import { mutex_destroy, mutex_init, mutex_lock, mutex_lock_interruptible, mutex_unlock } from "./locking/mutex.js";
import { down, sema_init, up } from "./locking/semaphore.js";
import {
  complete, complete_all, completion_done, init_completion, reinit_completion, try_wait_for_completion, wait_for_completion,
  wait_for_completion_interruptible, wait_for_completion_timeout,
} from "./sched/completion.js";
import { msecs_to_jiffies } from "./time/timer.js";
import { cond_resched, irqentry_exit_cond_resched, need_resched } from "./sched/core.js";
import { might_sleep, preempt_disable, preempt_enable } from "./sched/might_sleep.js";
import { signal_pending } from "./signal.js";
import { on_each_cpu, smp_call_function_single } from "./smp.js";
import { misc_deregister, misc_register } from "../drivers/char/misc.js";
import { anon_inode_getfd } from "../fs/anon_inodes.js";
import { type file, fget, fput } from "../fs/file_table.js";
import { copy_from_user, copy_to_user } from "../lib/usercopy.js";
import { module_data, module_param_value } from "./module/main.js";
import type { task_struct } from "../include/linux/sched.js";
import type { dentry, simple_attribute } from "../include/linux/debugfs_types.js";
import { debugfs_create_dir, debugfs_create_file, debugfs_remove_recursive } from "../fs/debugfs/inode.js";

export const LINUX_KERNEL_API_SYMBOL = "linux_kernel_api";

export interface linux_kernel_api {
  // <linux/gfp.h>, <linux/mm.h>
  alloc_pages(gfp_mask: gfp_t, order: number): Promise<page | null>;
  __free_pages(p: page, order: number): void;
  page_address(p: page): Kva;
  page_to_pfn(p: page): Pfn;
  pfn_to_page(pfn: Pfn): page;
  virt_to_page(addr: Kva): page;
  __pa(addr: Kva): Hpa;
  __va(addr: Hpa): Kva;
  get_user_pages_fast(start: Uva, nr_pages: number, write: boolean, pages: page[]): Promise<number>;
  put_page(p: page): void;
  vm_mmap(file: module_file, addr: number, len: number, prot: number, flag: number, offset: number): Promise<number>;
  vm_munmap(start: Uva, len: number): Promise<number>;
  // <linux/slab.h>
  kmalloc(size: number, flags: gfp_t): Promise<Kva | null>;
  kfree(addr: Kva | null): void;
  ksize(addr: Kva): number;
  // pointer dereference through the direct map
  kmem_load(addr: Kva, dst: Uint8Array): void;
  kmem_store(addr: Kva, src: Uint8Array): void;
  // <linux/spinlock.h>, <linux/mutex.h>
  spin_lock_init(lock: spinlock_t, name: string): void;
  spin_lock(lock: spinlock_t): void | Promise<void>;
  spin_unlock(lock: spinlock_t): void;
  mutex_init(lock: mutex, name: string): void;
  mutex_lock(lock: mutex): Promise<void>;
  mutex_lock_interruptible(lock: mutex): Promise<number>;
  mutex_unlock(lock: mutex): void;
  mutex_destroy(lock: mutex): void;
  /** <linux/semaphore.h>: a semaphore with an initial count; down sleeps while it is 0. */
  sema_init(sem: semaphore, val: number, name: string): void;
  down(sem: semaphore): Promise<void>;
  up(sem: semaphore): void;
  // <linux/delay.h>: busy-wait (legal with a spinlock held)
  ndelay(nsecs: number): Promise<void>;
  udelay(usecs: number): Promise<void>;
  mdelay(msecs: number): Promise<void>;
  // <linux/completion.h>, <linux/jiffies.h>
  init_completion(x: completion): void;
  reinit_completion(x: completion): void;
  complete(x: completion): void;
  complete_all(x: completion): void;
  wait_for_completion(x: completion): Promise<void>;
  wait_for_completion_interruptible(x: completion): Promise<number>;
  wait_for_completion_timeout(x: completion, timeout: number): Promise<number>;
  try_wait_for_completion(x: completion): boolean;
  completion_done(x: completion): boolean;
  msecs_to_jiffies(m: number): number;
  // <linux/sched.h>, <linux/preempt.h>, <linux/irqflags.h>, <linux/smp.h>
  get_current(): module_task_struct;
  signal_pending(t: module_task_struct): boolean;
  cond_resched(): Promise<void>;
  /** The kernel-preemption point on return from an interrupt (irqentry_exit_cond_resched). */
  irqentry_exit_cond_resched(): Promise<void>;
  need_resched(): boolean;
  might_sleep(where: string): void;
  preempt_disable(): void;
  preempt_enable(): void;
  local_irq_disable(): void;
  local_irq_enable(): void;
  get_cpu(): number;
  put_cpu(): void;
  smp_processor_id(): number;
  num_online_cpus(): number;
  on_each_cpu(func: (info: unknown) => void, info: unknown, wait: boolean): Promise<void>;
  smp_call_function_single(cpu: number, func: (info: unknown) => void, info: unknown, wait: boolean): Promise<number>;
  // <linux/miscdevice.h>, <linux/fs.h>, <linux/anon_inodes.h>
  misc_register(misc: miscdevice): Promise<number>;
  misc_deregister(misc: miscdevice): Promise<void>;
  anon_inode_getfd(name: string, fops: file_operations, priv: unknown, flags: number): Promise<number>;
  fget(fd: number): module_file | null;
  fput(f: module_file): Promise<void>;
  file_inode(f: module_file): module_inode;
  // <linux/uaccess.h>
  copy_to_user(to: Uva, from: Uint8Array, n: number): Promise<number>;
  copy_from_user(to: Uint8Array, from: Uva, n: number): Promise<number>;
  // <linux/printk.h>
  printk(level: string, msg: string): void;
  // <linux/debugfs.h> (2.6.22: NULL on failure; a NULL parent is the debugfs root)
  debugfs_create_dir(name: string, parent: dentry | null): dentry | null;
  debugfs_create_file(name: string, mode: number, parent: dentry | null, data: unknown, fops: simple_attribute): dentry | null;
  debugfs_remove_recursive(d: dentry | null): void;
  // <linux/module.h>
  module_data<T>(module_name: string, init: () => T): T;
  module_param_value(module_name: string, name: string): boolean | number;
}

/** Range check of a direct-map access: an address outside it is an oops. */
function direct_map_check(k: linux_kernel, addr: number, len: number, what: string): number {
  const pa = addr - PAGE_OFFSET;
  if (!Number.isFinite(addr) || pa < 0 || pa + len > k.zone.spanned_pages * PAGE_SIZE) {
    if (addr >= 0 && addr < PAGE_SIZE)
      BUG(k, `kernel NULL pointer dereference, address: ${addr.toString(16).padStart(16, "0")}`, `#PF: supervisor ${what} access in kernel mode`);
    BUG(k, `unable to handle page fault for address: ${Math.max(0, addr).toString(16).padStart(16, "0")}`, `#PF: supervisor ${what} access in kernel mode`);
  }
  return pa;
}

/** debug_smp_processor_id (CONFIG_DEBUG_PREEMPT): the CPU id is only stable while the
 *  caller cannot migrate; asking from preemptible code is reported (and answered), as
 *  Linux does, unless the task is bound to this one CPU. */
function debug_smp_processor_id(k: linux_kernel): number {
  const pc = this_cpu(k);
  const t = pc.current_task;
  const pinned = t.cpus_allowed !== null && t.cpus_allowed.size === 1;
  if (t.thread_info.preempt_count === 0 && pc.cpu.intr_enabled && !pc.cpu.in_interrupt && !pinned) {
    printk(k, KERN_ERR, `BUG: using smp_processor_id() in preemptible [00000000] code: ${t.comm}/${t.pid}`);
    k.warnings++;
  }
  return pc.cpu_number;
}

export function build_linux_kernel_api(k: linux_kernel): linux_kernel_api {
  const as_page = (p: page): page => p;
  return {
    alloc_pages: (gfp, order) => alloc_pages(k, gfp, order),
    __free_pages: (p, order) => __free_pages(k, as_page(p), order),
    page_address: (p) => page_address(as_page(p)),
    page_to_pfn: (p) => page_to_pfn(as_page(p)),
    pfn_to_page: (pfn) => pfn_to_page(k, pfn),
    virt_to_page: (addr) => pfn_to_page(k, Math.floor(direct_map_check(k, addr, 0, "read") / PAGE_SIZE) as Pfn),
    __pa: (addr) => {
      direct_map_check(k, addr, 0, "read");
      return __pa_raw(addr);
    },
    __va: (addr) => __va_raw(addr),
    get_user_pages_fast: (start, nr_pages, write, pages) => get_user_pages_fast(k, start, nr_pages, write, pages),
    put_page: (p) => put_page(k, as_page(p)),
    vm_mmap: (f, addr, len, prot, flag, offset) => vm_mmap(k, f as file, addr, len, prot, flag, offset),
    vm_munmap: (start, len) => vm_munmap(k, start, len),

    kmalloc: (size, flags) => kmalloc(k, size, flags),
    kfree: (addr) => kfree(k, addr),
    ksize: (addr) => ksize(k, addr),

    kmem_load: (addr, dst) => k.machine.ram.read(direct_map_check(k, addr, dst.length, "read") as Hpa, dst),
    kmem_store: (addr, src) => k.machine.ram.write(direct_map_check(k, addr, src.length, "write") as Hpa, src),

    spin_lock_init: (lock, name) => spin_lock_init(k, lock, name),
    spin_lock: (lock) => spin_lock(k, lock),
    spin_unlock: (lock) => spin_unlock(k, lock),
    mutex_init: (lock, name) => mutex_init(k, lock, name),
    mutex_lock: (lock) => mutex_lock(k, lock),
    mutex_lock_interruptible: (lock) => mutex_lock_interruptible(k, lock),
    mutex_unlock: (lock) => mutex_unlock(k, lock),
    mutex_destroy: (lock) => mutex_destroy(k, lock),
    sema_init: (sem, val, name) => sema_init(k, sem, val, name),
    down: (sem) => down(k, sem),
    up: (sem) => up(k, sem),
    ndelay: (n) => ndelay(k, n),
    udelay: (n) => udelay(k, n),
    mdelay: (n) => mdelay(k, n),

    init_completion: (x) => init_completion(k, x),
    reinit_completion: (x) => reinit_completion(k, x),
    complete: (x) => complete(k, x),
    complete_all: (x) => complete_all(k, x),
    wait_for_completion: (x) => wait_for_completion(k, x),
    wait_for_completion_interruptible: (x) => wait_for_completion_interruptible(k, x),
    wait_for_completion_timeout: (x, timeout) => wait_for_completion_timeout(k, x, timeout),
    try_wait_for_completion: (x) => try_wait_for_completion(k, x),
    completion_done: (x) => completion_done(k, x),
    msecs_to_jiffies: (m) => msecs_to_jiffies(k, m),

    get_current: () => get_current(k),
    signal_pending: (t) => signal_pending(t as task_struct),
    cond_resched: () => cond_resched(k),
    irqentry_exit_cond_resched: () => irqentry_exit_cond_resched(k),
    need_resched: () => need_resched(k),
    might_sleep: (where) => might_sleep(k, where),
    preempt_disable: () => preempt_disable(k),
    preempt_enable: () => preempt_enable(k),
    local_irq_disable: () => k.machine.cli(),
    local_irq_enable: () => k.machine.sti(),
    get_cpu: () => {
      preempt_disable(k);
      return this_cpu(k).cpu_number;
    },
    put_cpu: () => preempt_enable(k),
    smp_processor_id: () => debug_smp_processor_id(k),
    num_online_cpus: () => k.percpu.length,
    on_each_cpu: (func, info, wait) => on_each_cpu(k, func, info, wait),
    smp_call_function_single: (cpu, func, info, wait) => smp_call_function_single(k, cpu, func, info, wait),

    misc_register: (misc) => misc_register(k, misc),
    misc_deregister: (misc) => misc_deregister(k, misc),
    anon_inode_getfd: (name, fops, priv, flags) => anon_inode_getfd(k, name, fops, priv, flags),
    fget: (fd) => fget(k, fd),
    fput: (f) => fput(k, f as file),
    file_inode: (f) => (f as file).f_inode,

    copy_to_user: (to, from, n) => copy_to_user(k, to, from, n),
    copy_from_user: (to, from, n) => copy_from_user(k, to, from, n),

    printk: (level, msg) => printk(k, level, msg),

    debugfs_create_dir: (name, parent) => debugfs_create_dir(k, name, parent),
    debugfs_create_file: (name, mode, parent, data, fops) => debugfs_create_file(k, name, mode, parent, data, fops),
    debugfs_remove_recursive: (d) => debugfs_remove_recursive(k, d),

    module_data: <T>(module_name: string, init: () => T): T => module_data(k, module_name, init),
    module_param_value: (module_name, name) => module_param_value(k, module_name, name),
  };
}

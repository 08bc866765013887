// sys/compat/linuxkpi/common/src/linux_current.c: `current`. A task_struct is created
// lazily for each FreeBSD thread the first time Linux code asks for it, and hangs off
// the thread (td_lkpi_task), as LinuxKPI does.

import { curkernel, curthread } from "../../host-freebsd/sys/pcpu.js";
import type { kernel } from "../../host-freebsd/sys/kernel.js";
import { P_SYSTEM, type thread } from "../../host-freebsd/sys/proc.js";
import { cursig } from "../../host-freebsd/kern/kern_sig.js";
import type { task_struct } from "../linux/sched_types.js";
import type { mm_struct } from "../linux/mm_struct.js";

export class linux_task implements task_struct {
  /** sys_ioctl's kernel copy of the current ioctl argument, its length, and the user
   *  address the driver was given for it (LINUX_IOCTL_MIN_PTR or the caller's pointer):
   *  what linux_uaccess redirects to the kernel copy. */
  bsd_ioctl_data: Uint8Array | null = null;
  bsd_ioctl_len = 0;
  bsd_ioctl_uaddr = 0;
  constructor(private readonly td: thread | null) {}
  /** The FreeBSD thread this task stands for. */
  get task_thread(): thread {
    return this.td as thread;
  }
  // DIVERGENCE: task->pid is the FreeBSD thread id (td_tid, 100000 and up), as in
  // LinuxKPI, not a Linux pid; comm is the thread's name.
  get pid(): number {
    return this.task_thread.td_tid;
  }
  get comm(): string {
    return this.task_thread.td_name;
  }
  /** The address space: the process's vmspace stands for its mm_struct (identity is all
   *  modules use); kernel threads have none. */
  get mm(): mm_struct | null {
    const p = this.task_thread.td_proc;
    return (p.p_flag & P_SYSTEM) !== 0 ? null : p.p_vmspace;
  }
}

/**
 * The 2007 snapshot's `current` (preset current: "static"): "We just use a statically
 * allocated struct task_struct and return a pointer to it. This only works when only a
 * single thread accesses linux-kmod-compat". One per kernel the shim is loaded into
 * (the module's static storage); it is filled in once, by the first user thread that
 * asks, and every thread after that gets the same task: its mm, its pid, its signals,
 * and its ioctl argument slot.
 */
class linux_static_task extends linux_task {
  private bound: thread | null = null;
  constructor() {
    super(null);
  }
  override get task_thread(): thread {
    if (this.bound !== null) return this.bound;
    const td = curthread();
    if ((td.td_proc.p_flag & P_SYSTEM) === 0) this.bound = td;
    return td;
  }
}

const static_tasks = new WeakMap<kernel, linux_static_task>();

/** The shim's load with current: "static" installs the static task for its kernel. */
export function linux_current_set_static(k: kernel, on: boolean): void {
  if (on) static_tasks.set(k, new linux_static_task());
  else static_tasks.delete(k);
}

/** linux_get_current: curthread's task, created on first use (or the static one). */
export function linux_get_current(): linux_task {
  const st = static_tasks.get(curkernel());
  if (st !== undefined) return st;
  const td = curthread();
  if (td.td_lkpi_task === null) td.td_lkpi_task = new linux_task(td);
  return td.td_lkpi_task as linux_task;
}

/** signal_pending: any signal posted to the task's process (SIGPENDING). */
export function linux_signal_pending(t: task_struct): boolean {
  if (!(t instanceof linux_task)) return false;
  return cursig(t.task_thread) !== 0;
}

// kernel/exit.c: do_exit, exit_notify, release_task, and wait4 for the parent.
//
// Teardown order as in Linux: the address space (every mapping unmapped, every page and
// page-table page freed, driver mappings closed and their files put), then the file
// table (every fd closed, ->release called on last reference), then the parent is told.
// The kernel stack is released by the next task (finish_task_switch) and the task is
// forgotten when its parent reaps it (or at once for a task nobody waits for).

import type { linux_kernel } from "../init/main.js";
import { ECHILD } from "../include/linux/errno.js";
import { EXIT_DEAD, EXIT_ZOMBIE, PF_EXITING, TASK_DEAD, type task_struct } from "../include/linux/sched.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { BUG } from "./panic.js";
import { KERN_ERR, printk } from "./printk/printk.js";
import { schedule } from "./sched/core.js";
import { wait_event, wake_up } from "./sched/wait.js";
import { exit_mm } from "../mm/mmap.js";
import { exit_files } from "../fs/file.js";

export async function do_exit(k: linux_kernel, code: number): Promise<never> {
  const tsk = get_current(k);
  if (tsk.flags & PF_EXITING) BUG(k, `do_exit: ${tsk.comm}/${tsk.pid} is already exiting (recursive fault)`);
  tsk.flags |= PF_EXITING;
  if (tsk.thread_info.preempt_count !== 0) {
    printk(k, KERN_ERR, `note: ${tsk.comm}[${tsk.pid}] exited with preempt_count ${tsk.thread_info.preempt_count}`);
    tsk.thread_info.preempt_count = 0;
  }
  tsk.exit_code = code;
  await exit_mm(k, tsk);
  await exit_files(k, tsk);
  exit_notify(k, tsk);
  tsk.__state = TASK_DEAD;
  await schedule(k);
  BUG(k, `dead task ${tsk.comm}/${tsk.pid} rescheduled`);
}

function exit_notify(k: linux_kernel, tsk: task_struct): void {
  // Orphans are reaped by nobody: they release themselves when they exit.
  for (const c of tsk.children) c.parent = null;
  tsk.children.length = 0;
  const parent = tsk.parent;
  if (parent !== null && parent.exit_state === 0) {
    tsk.exit_state = EXIT_ZOMBIE;
    wake_up(k, parent.signal.wait_chldexit);
  } else {
    tsk.exit_state = EXIT_DEAD;
    release_task(k, tsk);
  }
}

export function release_task(k: linux_kernel, p: task_struct): void {
  k.pids.delete(p.pid);
  const parent = p.parent;
  if (parent !== null) {
    const i = parent.children.indexOf(p);
    if (i >= 0) parent.children.splice(i, 1);
  }
}

/** wait4(pid) by the current task for one of its children: the wait status or -ECHILD.
 *  The wait is uninterruptible (its callers are kernel threads). */
export async function kernel_wait4(k: linux_kernel, pid: number): Promise<number> {
  const me = get_current(k);
  const child = me.children.find((c) => c.pid === pid);
  if (child === undefined) return -ECHILD;
  await wait_event(k, me.signal.wait_chldexit, () => child.exit_state === EXIT_ZOMBIE);
  const status = child.exit_code;
  child.exit_state = EXIT_DEAD;
  release_task(k, child);
  return status;
}

// wait status decoding (WIFEXITED / WEXITSTATUS / WTERMSIG)
export const WIFEXITED = (status: number): boolean => (status & 0x7f) === 0;
export const WEXITSTATUS = (status: number): number => (status >> 8) & 0xff;
export const WTERMSIG = (status: number): number => status & 0x7f;

/** exit(2) and exit_group(2) (a process has one thread in this model). */
export const sys_exit = (k: linux_kernel, error_code: number): Promise<never> => do_exit(k, (error_code & 0xff) << 8);
export const sys_exit_group = (k: linux_kernel, error_code: number): Promise<never> => do_exit(k, (error_code & 0xff) << 8);

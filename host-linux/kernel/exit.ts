// kernel/exit.c: do_exit, do_group_exit, exit_notify, release_task, and wait4 for the
// parent.
//
// Teardown order as in Linux: the address space (mm_release first: the
// CLONE_CHILD_CLEARTID word is cleared and its futex woken while the mm is still this
// task's; then, for the last user, every mapping unmapped, every page and page-table
// page freed, driver mappings closed and their files put), then the file table (for
// its last user, every fd closed, ->release called on last reference), then the parent
// is told. The kernel stack is released at the switch away from the dead task, and the
// task is forgotten when its parent reaps it (or at once for a task nobody waits for).
//
// Thread groups: a thread other than the leader is released as soon as it is dead
// (exit_signal -1: nobody waits for it). The leader stays a zombie its parent cannot
// reap until the last other thread is released (delay_group_leader); that release
// notifies the parent. The wait status is group_exit_code when the group exited as a
// whole (exit_group, a fatal signal), else the leader's own exit code.

import type { linux_kernel } from "../init/main.js";
import { ECHILD } from "../include/linux/errno.js";
import {
  EXIT_DEAD,
  EXIT_ZOMBIE,
  PF_EXITING,
  SIGNAL_GROUP_EXIT,
  TASK_DEAD,
  type task_struct,
} from "../include/linux/sched.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import { BUG } from "./panic.js";
import { debug_check_no_locks_held } from "./locking/lockdep.js";
import { KERN_ERR, printk } from "./printk/printk.js";
import { schedule } from "./sched/core.js";
import { wait_event, wake_up } from "./sched/wait.js";
import { zap_other_threads } from "./signal.js";
import { mm_release } from "./fork.js";
import { exit_mm } from "../mm/mmap.js";
import { exit_files } from "../fs/file.js";

export const thread_group_leader = (p: task_struct): boolean => p.group_leader === p;
/** thread_group_empty: no thread but the leader is left in the group. */
export const thread_group_empty = (p: task_struct): boolean => p.signal.thread_head.length <= 1;

export async function do_exit(k: linux_kernel, code: number): Promise<never> {
  const tsk = get_current(k);
  if (tsk.flags & PF_EXITING) BUG(k, `do_exit: ${tsk.comm}/${tsk.pid} is already exiting (recursive fault)`);
  tsk.flags |= PF_EXITING;
  if (tsk.thread_info.preempt_count !== 0) {
    printk(k, KERN_ERR, `note: ${tsk.comm}[${tsk.pid}] exited with preempt_count ${tsk.thread_info.preempt_count}`);
    tsk.thread_info.preempt_count = 0;
  }
  tsk.signal.live--;
  tsk.exit_code = code;
  await mm_release(k, tsk);
  await exit_mm(k, tsk);
  await exit_files(k, tsk);
  exit_notify(k, tsk);
  debug_check_no_locks_held(k);
  tsk.__state = TASK_DEAD;
  await schedule(k);
  BUG(k, `dead task ${tsk.comm}/${tsk.pid} rescheduled`);
}

/** do_group_exit: take all threads of the group down with `exit_code` (the first
 *  group exit fixes the code; later ones, and the threads it kills, use it). */
export async function do_group_exit(k: linux_kernel, exit_code: number): Promise<never> {
  const tsk = get_current(k);
  const sig = tsk.signal;
  if (sig.flags & SIGNAL_GROUP_EXIT) {
    exit_code = sig.group_exit_code;
  } else {
    sig.group_exit_code = exit_code;
    sig.flags = SIGNAL_GROUP_EXIT;
    zap_other_threads(k, tsk);
  }
  return do_exit(k, exit_code);
}

/** do_notify_parent for a group whose last thread is gone: a parent that will wait is
 *  woken; with no parent the group leader releases itself. */
function do_notify_parent(k: linux_kernel, leader: task_struct): void {
  const parent = leader.parent;
  if (parent !== null && parent.exit_state === 0) {
    leader.exit_state = EXIT_ZOMBIE;
    wake_up(k, parent.signal.wait_chldexit);
  } else {
    leader.exit_state = EXIT_DEAD;
    release_task(k, leader);
  }
}

function exit_notify(k: linux_kernel, tsk: task_struct): void {
  // Orphans are reaped by nobody: they release themselves when they exit; a zombie
  // orphan is released now.
  for (const c of [...tsk.children]) {
    c.parent = null;
    if (c.exit_state === EXIT_ZOMBIE && thread_group_empty(c)) {
      c.exit_state = EXIT_DEAD;
      release_task(k, c);
    }
  }
  tsk.children.length = 0;
  if (!thread_group_leader(tsk)) {
    // A thread: autoreaped.
    tsk.exit_state = EXIT_DEAD;
    release_task(k, tsk);
  } else if (thread_group_empty(tsk)) {
    do_notify_parent(k, tsk);
  } else {
    // delay_group_leader: the parent hears of the group when its last thread goes.
    tsk.exit_state = EXIT_ZOMBIE;
  }
}

/** release_task: the task is gone from the pid table and its thread group; the last
 *  thread of a group whose leader is a zombie notifies the leader's parent. */
export function release_task(k: linux_kernel, p: task_struct): void {
  k.pids.delete(p.pid);
  const sig = p.signal;
  const i = sig.thread_head.indexOf(p);
  if (i >= 0) {
    sig.thread_head.splice(i, 1);
    sig.nr_threads--;
  }
  if (sig.curr_target === p) sig.curr_target = null;
  const leader = p.group_leader;
  if (leader === p) {
    const parent = p.parent;
    if (parent !== null) {
      const j = parent.children.indexOf(p);
      if (j >= 0) parent.children.splice(j, 1);
    }
  } else if (thread_group_empty(leader) && leader.exit_state === EXIT_ZOMBIE && leader.pid !== 0 && k.pids.get(leader.pid) === leader) {
    do_notify_parent(k, leader);
  }
}

/** wait_task_zombie's status: the group's code after a group exit, else the leader's. */
function task_wait_status(p: task_struct): number {
  return p.signal.flags & SIGNAL_GROUP_EXIT ? p.signal.group_exit_code : p.exit_code;
}

/** wait4(pid) by the current task for one of its children: the wait status or -ECHILD.
 *  The wait is uninterruptible (its callers are kernel threads). */
export async function kernel_wait4(k: linux_kernel, pid: number): Promise<number> {
  const me = get_current(k);
  const child = me.children.find((c) => c.pid === pid);
  if (child === undefined) return -ECHILD;
  await wait_event(k, me.signal.wait_chldexit, () => child.exit_state === EXIT_ZOMBIE && thread_group_empty(child));
  const status = task_wait_status(child);
  child.exit_state = EXIT_DEAD;
  release_task(k, child);
  return status;
}

// wait status decoding (WIFEXITED / WEXITSTATUS / WTERMSIG)
export const WIFEXITED = (status: number): boolean => (status & 0x7f) === 0;
export const WEXITSTATUS = (status: number): number => (status >> 8) & 0xff;
export const WTERMSIG = (status: number): number => status & 0x7f;

/** exit(2): end the calling thread only. */
export const sys_exit = (k: linux_kernel, error_code: number): Promise<never> => do_exit(k, (error_code & 0xff) << 8);
/** exit_group(2): end every thread of the process. */
export const sys_exit_group = (k: linux_kernel, error_code: number): Promise<never> => do_group_exit(k, (error_code & 0xff) << 8);

// kernel/fork.c: creating tasks (copy_process) with their kernel stacks, clone(2) for
// threads, set_tid_address(2), and kernel_thread / kthread_run for kernel threads.
//
// clone creates threads: a task in the caller's thread group (CLONE_THREAD) on the
// caller's address space (CLONE_VM), signal handlers (CLONE_SIGHAND) and, with
// CLONE_FILES, its file table (without it, a copy: dup_fd). The new thread starts in
// user mode at the UserEntry the caller passed (machine/syscall.ts: the model's
// instruction pointer); when that function returns, the thread exits with its value,
// as glibc's clone() wrapper calls exit(2) with the start routine's return value.
// clone without CLONE_VM (fork) is refused with ENOSYS: this model has no
// copy-on-write duplication of an address space. CLONE_VM without CLONE_THREAD (a new
// process sharing the address space) and the namespace, ptrace, vfork and pidfd flags
// are refused with EINVAL and a message naming them.

import { Context } from "../../machine/engine.js";
import type { UserEntry } from "../../machine/syscall.js";
import type { linux_kernel } from "../init/main.js";
import { EAGAIN, EINVAL, ENOMEM, ENOSYS, EPERM, ERESTARTNOINTR } from "../include/linux/errno.js";
import { GFP_KERNEL } from "../include/linux/gfp_types.js";
import { PF_KTHREAD, SIGNAL_GROUP_EXIT, THREAD_SIZE_ORDER, signal_struct, task_struct } from "../include/linux/sched.js";
import {
  CLONE_CHILD_CLEARTID,
  CLONE_CHILD_SETTID,
  CLONE_DETACHED,
  CLONE_FILES,
  CLONE_FS,
  CLONE_NEWNS,
  CLONE_NEWUSER,
  CLONE_PARENT,
  CLONE_PARENT_SETTID,
  CLONE_PIDFD,
  CLONE_SETTLS,
  CLONE_SIGHAND,
  CLONE_SYSVSEM,
  CLONE_THREAD,
  CLONE_VM,
  CSIGNAL,
  clone_flag_names,
} from "../include/uapi/linux/sched.js";
import { TASK_SIZE_MAX } from "../arch/x86/include/asm/page.js";
import { get_current } from "../arch/x86/kernel/percpu.js";
import type { mm_struct } from "../mm/mm_struct.js";
import { dup_fd, put_files_struct, type files_struct } from "../fs/file.js";
import { __free_pages, alloc_pages_nowait } from "../mm/page_alloc.js";
import { put_user_u32 } from "../lib/usercopy.js";
import { wait_queue_head } from "./sched/wait.js";
import { finish_task_switch, wake_up_new_task } from "./sched/core.js";
import { do_exit } from "./exit.js";
import { fatal_signal_pending } from "./signal.js";
import { KERN_WARNING, printk } from "./printk/printk.js";
import { syscall_exit_to_user_mode } from "./entry/common.js";
import { enter_user_mode } from "./entry/user_mode.js";
import { do_futex } from "./futex/syscalls.js";
import { FUTEX_WAKE } from "../include/uapi/linux/futex.js";

/** pid_max. */
const PID_MAX = 32768;

function alloc_pid(k: linux_kernel): number {
  for (let tries = 0; tries < PID_MAX; tries++) {
    const pid = k.last_pid + 1 >= PID_MAX ? 300 : k.last_pid + 1;
    k.last_pid = pid;
    if (!k.pids.has(pid)) return pid;
  }
  return -EAGAIN;
}

export interface clone_args {
  comm: string;
  kthread: boolean;
  parent: task_struct | null;
  mm: mm_struct | null;
  files: files_struct | null;
  /** CLONE_THREAD: the thread group (any of its threads) the new task joins. */
  thread_group?: task_struct | null;
  /** The thread function: its return value is the exit code of a kernel thread; a user
   *  task's function exits through do_exit itself. */
  fn: () => Promise<number>;
}

/** copy_process: a new task, not yet runnable; -errno on failure. */
export function copy_process(k: linux_kernel, args: clone_args): task_struct | number {
  const pid = alloc_pid(k);
  if (pid < 0) return pid;
  const stack = alloc_pages_nowait(k, GFP_KERNEL, THREAD_SIZE_ORDER);
  if (stack === null) return -ENOMEM;
  const p = new task_struct(pid, args.comm);
  p.stack = stack;
  p.flags = args.kthread ? PF_KTHREAD : 0;
  p.mm = args.mm;
  p.files = args.files;
  p.parent = args.parent;
  const group = args.thread_group ?? null;
  if (group !== null) {
    const leader = group.group_leader;
    p.tgid = leader.tgid;
    p.group_leader = leader;
    p.signal = leader.signal;
    p.exit_signal = -1;
    p.signal.live++;
    p.signal.nr_threads++;
  } else {
    p.signal = new signal_struct(new wait_queue_head());
    if (args.parent !== null) args.parent.children.push(p);
  }
  p.signal.thread_head.push(p);
  p.ctx = new Context(`${args.comm}[${pid}]`, async () => {
    // ret_from_fork: schedule_tail, then the thread function.
    finish_task_switch(k);
    const code = await args.fn();
    await do_exit(k, (code & 0xff) << 8);
  });
  k.pids.set(pid, p);
  return p;
}

/** put_task_stack: the stack of a dead task, once nothing runs on it. */
export function put_task_stack(k: linux_kernel, t: task_struct): void {
  if (t.stack !== null) {
    __free_pages(k, t.stack, THREAD_SIZE_ORDER);
    t.stack = null;
  }
}

/** kthread_run: create and wake a kernel thread; the task, or -errno. */
export function kthread_run(k: linux_kernel, fn: () => Promise<number>, comm: string): task_struct | number {
  const p = copy_process(k, { comm, kthread: true, parent: null, mm: null, files: null, fn });
  if (typeof p === "number") return p;
  wake_up_new_task(k, p);
  return p;
}

/** Flags this model's clone implements (the rest are refused by name). CLONE_FS and
 *  CLONE_SYSVSEM share state the model does not have (cwd/root/umask, SysV semaphore
 *  undo lists): sharing or copying nothing is the same. CLONE_DETACHED has been ignored
 *  by Linux since 2.6.2. CLONE_PARENT with CLONE_THREAD changes nothing (a thread's
 *  parent already is its group's). The low byte (exit signal) is ignored for threads. */
const CLONE_IMPLEMENTED =
  CSIGNAL | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
  CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED | CLONE_PARENT;

function flag_names(flags: number): string {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) {
    const bit = (2 ** b) >>> 0;
    if ((flags >>> 0) & bit) out.push(clone_flag_names[bit] ?? `0x${bit.toString(16)}`);
  }
  return out.join("|");
}

/** ret_from_fork of a user thread: schedule_tail (CLONE_CHILD_SETTID), the way out to
 *  user mode of the clone that created it (where a pending SIGKILL ends it before it
 *  runs a single instruction), then its code; returning from it is exit(2). */
async function start_user_thread(k: linux_kernel, code: UserEntry): Promise<number> {
  const tsk = get_current(k);
  if (tsk.set_child_tid !== 0) put_user_u32(k, tsk.set_child_tid, tsk.pid);
  await syscall_exit_to_user_mode(k, tsk, 0);
  const v = await enter_user_mode(k, code);
  return await do_exit(k, (v & 0xff) << 8);
}

/** clone(2), x86-64 argument order (flags, newsp, parent_tid, child_tid, tls): the new
 *  thread's id, or -errno. `code` is where the new thread starts in user mode. */
export async function sys_clone(k: linux_kernel, clone_flags: number, newsp: number, parent_tidptr: number, child_tidptr: number, tls: number, code: UserEntry | undefined): Promise<number> {
  const cur = get_current(k);
  // copy_process's consistency checks, in Linux's order.
  if ((clone_flags & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return -EINVAL;
  if ((clone_flags & (CLONE_NEWUSER | CLONE_FS)) === (CLONE_NEWUSER | CLONE_FS)) return -EINVAL;
  if (clone_flags & CLONE_THREAD && (clone_flags & CLONE_SIGHAND) === 0) return -EINVAL;
  if (clone_flags & CLONE_SIGHAND && (clone_flags & CLONE_VM) === 0) return -EINVAL;
  // kernel_clone: the pidfd is returned through parent_tid.
  if (clone_flags & CLONE_PIDFD && clone_flags & CLONE_PARENT_SETTID) return -EINVAL;
  // What this model implements.
  if ((clone_flags & CLONE_VM) === 0) {
    printk(k, KERN_WARNING, `clone: ${cur.comm}[${cur.pid}]: fork (clone without CLONE_VM) is not implemented in this model`);
    return -ENOSYS;
  }
  const unimplemented = (clone_flags >>> 0) & ~(CLONE_IMPLEMENTED >>> 0);
  if (unimplemented !== 0 || (clone_flags & CLONE_THREAD) === 0) {
    const what = unimplemented !== 0 ? flag_names(unimplemented) : "CLONE_VM without CLONE_THREAD";
    printk(k, KERN_WARNING, `clone: ${cur.comm}[${cur.pid}]: ${what} not implemented in this model`);
    return -EINVAL;
  }
  if (code === undefined) {
    // A C program's child resumes after the SYSCALL instruction; a program of this
    // model must say where (syscall_with_entry), or the child has nowhere to run.
    printk(k, KERN_WARNING, `clone: ${cur.comm}[${cur.pid}]: no user entry for the new thread (use syscall_with_entry)`);
    return -EINVAL;
  }
  // copy_thread with CLONE_SETTLS: do_arch_prctl_64(ARCH_SET_FS) refuses a kernel address.
  if (clone_flags & CLONE_SETTLS && tls >= TASK_SIZE_MAX) return -EPERM;
  const mm = cur.mm;
  if (mm === null || cur.files === null || cur.flags & PF_KTHREAD) return -EINVAL;
  // A fatal signal pending means the caller will exit: the new thread cannot slip out
  // of it. (Linux also restarts for a non-fatal one; here that signal is simply taken
  // by the caller on its way out, as if it had arrived just before the clone.)
  if (fatal_signal_pending(cur) || cur.signal.flags & SIGNAL_GROUP_EXIT) return -ERESTARTNOINTR;
  let files: files_struct;
  if (clone_flags & CLONE_FILES) {
    files = cur.files;
    files.count++;
  } else {
    files = dup_fd(cur.files);
  }
  mm.mm_users++;
  const p = copy_process(k, {
    comm: cur.comm,
    kthread: false,
    parent: cur.group_leader.parent,
    mm,
    files,
    thread_group: cur,
    fn: () => start_user_thread(k, code),
  });
  if (typeof p === "number") {
    mm.mm_users--;
    if (clone_flags & CLONE_FILES) files.count--;
    else await put_files_struct(k, files);
    return p;
  }
  p.set_child_tid = clone_flags & CLONE_CHILD_SETTID ? child_tidptr : 0;
  p.clear_child_tid = clone_flags & CLONE_CHILD_CLEARTID ? child_tidptr : 0;
  p.thread.fsbase = clone_flags & CLONE_SETTLS ? tls : cur.thread.fsbase;
  p.thread.sp = newsp !== 0 ? newsp : cur.thread.sp;
  p.cpus_allowed = cur.cpus_allowed;
  // kernel_clone: the parent's copy of the tid is written before the child can run
  // (a fault here is ignored, as Linux ignores put_user's result).
  if (clone_flags & CLONE_PARENT_SETTID) put_user_u32(k, parent_tidptr, p.pid);
  wake_up_new_task(k, p);
  return p.pid;
}

/** mm_release: a thread leaving its address space. Its CLONE_CHILD_CLEARTID word is
 *  cleared and one waiter on it woken (a shared futex wake, as pthread_join waits),
 *  when another user of the address space could be waiting. */
export async function mm_release(k: linux_kernel, tsk: task_struct): Promise<void> {
  const mm = tsk.mm;
  if (mm !== null && tsk.clear_child_tid !== 0 && mm.mm_users > 1) {
    put_user_u32(k, tsk.clear_child_tid, 0);
    await do_futex(k, tsk.clear_child_tid, FUTEX_WAKE, 1, 0, 0);
  }
  tsk.clear_child_tid = 0;
}

/** set_tid_address(2): the word cleared (and futex-woken) when this thread exits. */
export async function sys_set_tid_address(k: linux_kernel, tidptr: number): Promise<number> {
  const cur = get_current(k);
  cur.clear_child_tid = tidptr;
  return cur.pid;
}

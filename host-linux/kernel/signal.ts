// kernel/signal.c: sending signals, signal_pending(), and get_signal() on the way back
// to user mode.
//
// The processes of this model cannot install handlers (there is no rt_sigaction), so
// dispositions are fixed: SIGKILL kills; a synchronous fault signal (force_sig_fault:
// SIGSEGV, SIGBUS) kills; signals whose default action is to ignore are dropped when
// sent; every other signal behaves as if caught by an empty handler installed without
// SA_RESTART: it interrupts an interruptible sleep (the system call returns -EINTR) and
// is consumed on return to user mode. That is what a VMM expects of the signal it uses
// to kick a vcpu out of KVM_RUN.
//
// Thread groups: kill(2) sends to the process (the group's shared_pending) and one
// thread that can take it is woken (complete_signal); tkill/tgkill send to one thread.
// A fatal signal (SIGKILL) is fatal to the whole group: SIGNAL_GROUP_EXIT is set and
// every thread gets SIGKILL, so a thread blocked in KVM_RUN or a futex wakes and dies.
//
// Locking: siglock is implicit; these run synchronously.

import type { linux_kernel } from "../init/main.js";
import { EINVAL, ESRCH } from "../include/linux/errno.js";
import {
  PF_EXITING,
  PF_KTHREAD,
  SIGNAL_GROUP_EXIT,
  TASK_INTERRUPTIBLE,
  TASK_WAKEKILL,
  TIF_SIGPENDING,
  type task_struct,
} from "../include/linux/sched.js";
import { SIGKILL, _NSIG, sig_kernel_ignore } from "../include/linux/signal.js";
import { RESCHEDULE_VECTOR } from "../arch/x86/kernel/irq_vectors.js";
import { wake_up_state } from "./sched/core.js";

export const signal_pending = (t: task_struct): boolean => (t.thread_info.flags & TIF_SIGPENDING) !== 0;
export const fatal_signal_pending = (t: task_struct): boolean => t.pending.has(SIGKILL) || t.forced_fatal_signal !== 0;

/** Would a sleep in `state` be interrupted by what is pending for `p`? */
export function signal_pending_state(state: number, p: task_struct): boolean {
  if ((state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL)) === 0) return false;
  if (!signal_pending(p)) return false;
  return (state & TASK_INTERRUPTIBLE) !== 0 || fatal_signal_pending(p);
}

/** task_curr: running on its CPU right now. */
const task_curr = (k: linux_kernel, t: task_struct): boolean => k.percpu[t.cpu].rq.curr === t;

/** signal_wake_up: mark the signal pending and interrupt an interruptible (or, for a
 *  fatal one, killable) sleep; a task running on another CPU is kicked so it notices on
 *  its way to user mode. */
function signal_wake_up(k: linux_kernel, t: task_struct, fatal: boolean): void {
  t.thread_info.flags |= TIF_SIGPENDING;
  if (wake_up_state(k, t, TASK_INTERRUPTIBLE | (fatal ? TASK_WAKEKILL : 0))) return;
  if (task_curr(k, t)) k.machine.send_ipi(k.machine.cpus[t.cpu], RESCHEDULE_VECTOR);
}

/** prepare_signal: false when the signal is to be dropped. */
function prepare_signal(sig: number, t: task_struct): boolean {
  if (t.flags & PF_KTHREAD) return false;
  // A group on its way out takes nothing more (its threads already have SIGKILL).
  if (t.signal.flags & SIGNAL_GROUP_EXIT) return false;
  if (t.exit_state !== 0 && t.signal.live === 0) return false;
  return !sig_kernel_ignore(sig);
}

/** wants_signal: a thread that can take a process-directed signal now. */
function wants_signal(k: linux_kernel, sig: number, p: task_struct): boolean {
  if (p.flags & PF_EXITING || p.exit_state !== 0) return false;
  if (sig === SIGKILL) return true;
  return task_curr(k, p) || !signal_pending(p);
}

/** complete_signal: find a thread to take `sig` (sent to `p`, or to its group when
 *  `group`) and wake it; a fatal signal takes the whole group down. */
function complete_signal(k: linux_kernel, sig: number, p: task_struct, group: boolean): void {
  const signal = p.signal;
  let t: task_struct | null = null;
  if (wants_signal(k, sig, p)) t = p;
  else if (!group) return;
  else {
    const threads = signal.thread_head;
    const start = signal.curr_target !== null ? Math.max(0, threads.indexOf(signal.curr_target)) : 0;
    for (let n = 0; n < threads.length; n++) {
      const c = threads[(start + n) % threads.length];
      if (wants_signal(k, sig, c)) {
        t = c;
        break;
      }
    }
    if (t === null) return;
    signal.curr_target = t;
  }
  if (sig === SIGKILL) {
    // This signal will be fatal to the whole group.
    signal.flags = SIGNAL_GROUP_EXIT;
    signal.group_exit_code = sig;
    for (const c of signal.thread_head) {
      if (c.exit_state !== 0) continue;
      c.pending.add(SIGKILL);
      signal_wake_up(k, c, true);
    }
    return;
  }
  signal_wake_up(k, t, false);
}

/** send_signal_locked: `group` is PIDTYPE_TGID (kill) rather than PIDTYPE_PID (tkill). */
function send_signal_locked(k: linux_kernel, sig: number, t: task_struct, group: boolean): void {
  if (!prepare_signal(sig, t)) return;
  (group ? t.signal.shared_pending : t.pending).add(sig);
  complete_signal(k, sig, t, group);
}

/** send_sig to one thread (a kernel-internal sender). */
export function send_sig(k: linux_kernel, sig: number, t: task_struct): void {
  send_signal_locked(k, sig, t, false);
}

/** force_sig_fault: a fault the task cannot continue from. */
export function force_sig_fault(k: linux_kernel, sig: number, t: task_struct): void {
  t.forced_fatal_signal = sig;
  t.pending.add(sig);
  signal_wake_up(k, t, true);
}

/** zap_other_threads: every other live thread of the group gets SIGKILL (for
 *  do_group_exit). */
export function zap_other_threads(k: linux_kernel, p: task_struct): void {
  for (const t of p.signal.thread_head) {
    if (t === p || t.exit_state !== 0) continue;
    t.pending.add(SIGKILL);
    signal_wake_up(k, t, true);
  }
}

/** kill(2) for a single process (pid > 0): 0 or -errno. Any thread's id names its
 *  process. */
export function kill_pid(k: linux_kernel, pid: number, sig: number): number {
  if (!Number.isInteger(sig) || sig < 0 || sig > _NSIG) return -EINVAL;
  // Process groups (pid 0, pid < -1) and broadcast (-1) are not modelled.
  if (pid <= 0) return -ESRCH;
  const t = k.pids.get(pid);
  if (t === undefined || (t.exit_state !== 0 && t.signal.live === 0)) return -ESRCH;
  if (sig !== 0) send_signal_locked(k, sig, t, true);
  return 0;
}

/** do_tkill: tgkill(2) (tgid > 0) and tkill(2) (tgid -1): 0 or -errno. */
export function do_tkill(k: linux_kernel, tgid: number, pid: number, sig: number): number {
  if (!Number.isInteger(sig) || sig < 0 || sig > _NSIG) return -EINVAL;
  if (pid <= 0 || (tgid !== -1 && tgid <= 0)) return -EINVAL;
  const t = k.pids.get(pid);
  if (t === undefined || (tgid > 0 && t.tgid !== tgid) || t.exit_state !== 0) return -ESRCH;
  if (sig !== 0) send_signal_locked(k, sig, t, false);
  return 0;
}

export const sys_tkill = (k: linux_kernel, pid: number, sig: number): number => do_tkill(k, -1, pid, sig);
export const sys_tgkill = (k: linux_kernel, tgid: number, pid: number, sig: number): number => do_tkill(k, tgid, pid, sig);

/** get_signal: dequeue what is pending on the way to user mode (this thread's signals,
 *  then the process's). Returns the signal that kills the task (its group), or 0 when
 *  every pending signal was consumed. */
export function get_signal(t: task_struct): number {
  if (t.forced_fatal_signal !== 0) return t.forced_fatal_signal;
  if (t.pending.has(SIGKILL) || t.signal.flags & SIGNAL_GROUP_EXIT) return SIGKILL;
  t.pending.clear();
  t.signal.shared_pending.clear();
  t.thread_info.flags &= ~TIF_SIGPENDING;
  return 0;
}

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

import type { linux_kernel } from "../init/main.js";
import { EINVAL, ESRCH } from "../include/linux/errno.js";
import {
  PF_EXITING,
  PF_KTHREAD,
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

/** signal_wake_up: interrupt an interruptible (or, for SIGKILL, killable) sleep; a task
 *  running on another CPU is kicked so it notices on its way to user mode. */
function signal_wake_up(k: linux_kernel, t: task_struct, fatal: boolean): void {
  if (wake_up_state(k, t, TASK_INTERRUPTIBLE | (fatal ? TASK_WAKEKILL : 0))) return;
  const r = k.percpu[t.cpu].rq;
  if (r.curr === t) k.machine.send_ipi(k.machine.cpus[t.cpu], RESCHEDULE_VECTOR);
}

/** send_signal_locked. Kernel threads ignore signals. */
export function send_sig(k: linux_kernel, sig: number, t: task_struct): void {
  if (t.flags & PF_KTHREAD) return;
  if (t.exit_state !== 0 || (t.flags & PF_EXITING && sig !== SIGKILL)) return;
  if (sig_kernel_ignore(sig)) return;
  t.pending.add(sig);
  t.thread_info.flags |= TIF_SIGPENDING;
  signal_wake_up(k, t, sig === SIGKILL);
}

/** force_sig_fault: a fault the task cannot continue from. */
export function force_sig_fault(k: linux_kernel, sig: number, t: task_struct): void {
  t.forced_fatal_signal = sig;
  t.pending.add(sig);
  t.thread_info.flags |= TIF_SIGPENDING;
  signal_wake_up(k, t, true);
}

/** kill(2) for a single process (pid > 0): 0 or -errno. */
export function kill_pid(k: linux_kernel, pid: number, sig: number): number {
  if (!Number.isInteger(sig) || sig < 0 || sig > _NSIG) return -EINVAL;
  // Process groups (pid 0, pid < -1) and broadcast (-1) are not modelled.
  if (pid <= 0) return -ESRCH;
  const t = k.pids.get(pid);
  if (t === undefined || t.exit_state !== 0) return -ESRCH;
  if (sig !== 0) send_sig(k, sig, t);
  return 0;
}

/** get_signal: dequeue what is pending on the way to user mode. Returns the signal that
 *  kills the task, or 0 when every pending signal was consumed. */
export function get_signal(t: task_struct): number {
  if (t.forced_fatal_signal !== 0) return t.forced_fatal_signal;
  if (t.pending.has(SIGKILL)) return SIGKILL;
  t.pending.clear();
  t.thread_info.flags &= ~TIF_SIGPENDING;
  return 0;
}

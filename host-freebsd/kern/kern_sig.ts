// sys/kern/kern_sig.c, reduced: posting signals to processes and threads, and noticing
// them.
//
// Model rules (DESIGN/kernel_common): SIGKILL terminates the target at its next return
// to user mode or interruptible sleep (the sleep is aborted with EINTR and the exit
// happens on the way out of the system call). The model's processes install no
// handlers: signals whose default action is to ignore are discarded when sent; every
// other one behaves as if caught by an empty handler without SA_RESTART: it makes
// interruptible sleeps end with EINTR, signal checks see it, and it is consumed on
// return to user mode.
//
// Process-directed signals wait in p_siglist and wake one thread (sigtd: one that is
// in an interruptible sleep, else the first); SIGKILL wakes them all. Thread-directed
// ones (thr_kill) wait in td_siglist.

import { current_cpu } from "../../machine/engine.js";
import { curkernel, curthread } from "../sys/pcpu.js";
import { EINVAL, ESRCH, EINTR } from "../sys/errno.js";
import { SIGKILL, _SIG_MAXSIG, sig_default_ignore } from "../sys/signal.js";
import { TDF_SINTR, TDI_SLEEPING, type proc, type thread } from "../sys/proc.js";
import type { kernel } from "../sys/kernel.js";
import { sleepq_abort } from "./kern_synch.js";
import { IPI_AST } from "../amd64/intr_machdep.js";

/** cursig: the lowest-numbered signal pending for td (its own or its process's), or 0. */
export function cursig(td: thread): number {
  let best = 0;
  for (const s of td.td_siglist) if (best === 0 || s < best) best = s;
  for (const s of td.td_proc.p_siglist) if (best === 0 || s < best) best = s;
  return best;
}

export const sigkill_pending = (td: thread): boolean => td.td_siglist.has(SIGKILL) || td.td_proc.p_siglist.has(SIGKILL);

const in_intr_sleep = (td: thread) => td.td_state === "TDS_INHIBITED" && (td.td_inhibitors & TDI_SLEEPING) !== 0 && (td.td_flags & TDF_SINTR) !== 0;

/** tdsigwakeup: interrupt td's interruptible sleep, or poke its CPU if it runs. */
function tdsigwakeup(k: kernel, td: thread): void {
  if (td.td_state === "TDS_INHIBITED") sleepq_abort(k, td, EINTR);
  else if (td.td_state === "TDS_RUNNING" && td.td_oncpu >= 0) {
    const cpu = k.machine.cpus[td.td_oncpu];
    if (cpu !== current_cpu()) k.machine.send_ipi(cpu, IPI_AST);
  }
}

/** pksignal: post `sig` to process p. */
export function pksignal(k: kernel, p: proc, sig: number): void {
  if (p.p_state === "PRS_ZOMBIE") return;
  if (sig_default_ignore(sig)) return;
  p.p_siglist.add(sig);
  if (sig === SIGKILL) {
    for (const td of p.p_threads) tdsigwakeup(k, td);
    return;
  }
  const td = p.p_threads.find(in_intr_sleep) ?? p.p_threads[0];
  if (td !== undefined) tdsigwakeup(k, td);
}

/** tdsignal: post `sig` to one thread (thr_kill). SIGKILL still kills the process. */
export function tdsignal(k: kernel, td: thread, sig: number): void {
  if (sig === SIGKILL) return pksignal(k, td.td_proc, sig);
  if (sig_default_ignore(sig)) return;
  td.td_siglist.add(sig);
  tdsigwakeup(k, td);
}

/** postsig for everything pending on the way to user mode (the null handlers). */
export function sigconsume(td: thread): void {
  td.td_siglist.clear();
  td.td_proc.p_siglist.clear();
}

export function pfind(k: kernel, pid: number): proc | null {
  return k.allproc.find((p) => p.p_pid === pid && p.p_state !== "PRS_NEW") ?? null;
}

/** kern_kill: kill(2). */
export function kern_kill(_td: thread, pid: number, signum: number): number {
  const k = curkernel();
  if (signum < 0 || signum > _SIG_MAXSIG) return EINVAL;
  const p = pfind(k, pid);
  if (p === null || p.p_state === "PRS_ZOMBIE" || p.p_pid === 0) return ESRCH;
  if (signum !== 0) pksignal(k, p, signum);
  return 0;
}

/** kern_thr_kill: thr_kill2(2) (pid -1: the caller's process). */
export function kern_thr_kill(pid: number, tid: number, signum: number): number {
  const k = curkernel();
  if (signum < 0 || signum > _SIG_MAXSIG) return EINVAL;
  const p = pid === -1 ? curthread().td_proc : pfind(k, pid);
  if (p === null || p.p_state === "PRS_ZOMBIE") return ESRCH;
  const td = p.p_threads.find((t) => t.td_tid === tid);
  if (td === undefined) return ESRCH;
  if (signum !== 0) tdsignal(k, td, signum);
  return 0;
}

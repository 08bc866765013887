// sys/kern/kern_sig.c, reduced: posting signals to a process and noticing them.
//
// Model rules (DESIGN/kernel_common): SIGKILL terminates the target at its next return
// to user mode or interruptible sleep (the sleep is aborted with EINTR and the exit
// happens on the way out of the system call). The model's processes install no
// handlers: signals whose default action is to ignore are discarded when sent; every
// other one behaves as if caught by an empty handler without SA_RESTART: it makes
// interruptible sleeps end with EINTR, signal checks see it, and it is consumed on
// return to user mode.

import { current_cpu } from "../../machine/engine.js";
import { curkernel } from "../sys/pcpu.js";
import { EINVAL, ESRCH, EINTR } from "../sys/errno.js";
import { _SIG_MAXSIG, sig_default_ignore } from "../sys/signal.js";
import type { proc, thread } from "../sys/proc.js";
import type { kernel } from "../sys/kernel.js";
import { sleepq_abort } from "./kern_synch.js";
import { IPI_AST } from "../amd64/intr_machdep.js";

/** cursig: the lowest-numbered pending signal of td's process, or 0. */
export function cursig(td: thread): number {
  let best = 0;
  for (const s of td.td_proc.p_siglist) if (best === 0 || s < best) best = s;
  return best;
}

/** pksignal/tdsignal: post `sig` to p and interrupt its interruptible sleeps. */
export function pksignal(k: kernel, p: proc, sig: number): void {
  if (p.p_state === "PRS_ZOMBIE") return;
  // No handlers in the model: a default-ignore signal is discarded when sent.
  if (sig_default_ignore(sig)) return;
  p.p_siglist.add(sig);
  for (const td of p.p_threads) {
    if (td.td_state === "TDS_INHIBITED") sleepq_abort(k, td, EINTR);
    else if (td.td_state === "TDS_RUNNING" && td.td_oncpu >= 0) {
      const cpu = k.machine.cpus[td.td_oncpu];
      if (cpu !== current_cpu()) k.machine.send_ipi(cpu, IPI_AST);
    }
  }
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

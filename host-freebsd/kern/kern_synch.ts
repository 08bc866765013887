// sys/kern/kern_synch.c and subr_sleepqueue.c: mi_switch, sleeping on a wait channel
// (msleep/pause) and waking up (wakeup/wakeup_one), plus the voluntary preemption
// points (kern_yield, maybe_yield) and the AST taken on return to user mode.
//
// A sleep queue is the list of threads asleep on one channel (sleepq_chains); all
// changes happen in synchronous code, so no chain lock is needed in the model.

import { curkernel, curpcpu, curthread } from "../sys/pcpu.js";
import { EINTR, EWOULDBLOCK } from "../sys/errno.js";
import { TDF_NEEDRESCHED, TDF_SINTR, TDF_TIMEOUT, TDI_SLEEPING, type thread } from "../sys/proc.js";
import type { kernel } from "../sys/kernel.js";
import type { lock_object } from "../sys/lock.js";
import { panic } from "./kern_shutdown.js";
import { sched_add, sched_switch } from "./sched_ule.js";
import { witness_warn_sleep } from "./subr_witness.js";
import { callout_reset, callout_stop } from "./kern_timeout.js";
import { cursig } from "./kern_sig.js";

// Sleep priority flags (sys/param.h).
export const PCATCH = 0x100;
export const PDROP = 0x200;
export const PRI_USER = -2;

/** mi_switch: give the CPU up. The caller has set td_state (INHIBITED to block, or
 *  left RUNNING to be preempted/yield). Resolves when the thread runs again. */
export async function mi_switch(): Promise<void> {
  const td = curthread();
  if (td.td_critnest > 0 && td.td_state !== "TDS_RUNNING") panic(`mi_switch: switch in a critical section (thread ${td.td_name}, td_critnest ${td.td_critnest})`);
  if (td.td_md.md_spinlock_count > 0) panic(`mi_switch: switch with a spin lock held (thread ${td.td_name})`);
  await sched_switch(td);
}

/** setrunnable: a blocked or sleeping thread becomes runnable. */
export function setrunnable(k: kernel, td: thread): void {
  td.td_inhibitors = 0;
  td.td_wchan = null;
  td.td_wmesg = null;
  sched_add(k, td);
}

function sleepq_remove(k: kernel, td: thread): void {
  const chain = k.sleepq_chains.get(td.td_wchan);
  if (chain !== undefined) {
    const i = chain.indexOf(td);
    if (i >= 0) chain.splice(i, 1);
    if (chain.length === 0) k.sleepq_chains.delete(td.td_wchan);
  }
}

/** sleepq_abort: end td's interruptible sleep early with `error` (a signal arrived). */
export function sleepq_abort(k: kernel, td: thread, error: number): void {
  if (td.td_state !== "TDS_INHIBITED" || (td.td_inhibitors & TDI_SLEEPING) === 0 || (td.td_flags & TDF_SINTR) === 0) return;
  sleepq_remove(k, td);
  td.td_slpret = error;
  setrunnable(k, td);
}

/**
 * _sleep(9): sleep on `chan` until wakeup(chan), a signal (with PCATCH), or `timo`
 * ticks. `interlock` (an mtx held by the caller) is released while asleep and
 * reacquired before returning, unless PDROP. Returns 0, EINTR, or EWOULDBLOCK.
 */
export async function _sleep(
  chan: unknown,
  interlock: { lock_object: lock_object; unlock(): void; relock(): Promise<void> } | null,
  priority: number,
  wmesg: string,
  timo: number,
): Promise<number> {
  const k = curkernel();
  const td = curthread();
  witness_warn_sleep(`Sleeping on "${wmesg}"`, interlock?.lock_object ?? null);
  const catchsig = (priority & PCATCH) !== 0;
  if (catchsig && cursig(td) !== 0) {
    if (interlock !== null && (priority & PDROP) !== 0) interlock.unlock();
    return EINTR;
  }
  td.td_wchan = chan;
  td.td_wmesg = wmesg;
  td.td_slpret = 0;
  td.td_flags = (td.td_flags & ~(TDF_SINTR | TDF_TIMEOUT)) | (catchsig ? TDF_SINTR : 0);
  let chain = k.sleepq_chains.get(chan);
  if (chain === undefined) k.sleepq_chains.set(chan, (chain = []));
  chain.push(td);
  let c = null;
  if (timo > 0) {
    const now = curpcpu().pc_cpu.tsc;
    c = callout_reset(k, now + timo * k.tick_cycles, () => {
      if (td.td_wchan !== chan || td.td_state !== "TDS_INHIBITED") return;
      sleepq_remove(k, td);
      td.td_slpret = EWOULDBLOCK;
      td.td_flags |= TDF_TIMEOUT;
      setrunnable(k, td);
    });
  }
  if (interlock !== null) interlock.unlock();
  td.td_state = "TDS_INHIBITED";
  td.td_inhibitors |= TDI_SLEEPING;
  await mi_switch();
  if (c !== null) callout_stop(k, c);
  td.td_flags &= ~(TDF_SINTR | TDF_TIMEOUT);
  const ret = td.td_slpret;
  td.td_slpret = 0;
  if (interlock !== null && (priority & PDROP) === 0) await interlock.relock();
  return ret;
}

/** msleep(9) without an interlock (tsleep). */
export function tsleep(chan: unknown, priority: number, wmesg: string, timo: number): Promise<number> {
  return _sleep(chan, null, priority, wmesg, timo);
}

/** pause(9): sleep for `timo` ticks. */
export async function pause(wmesg: string, timo: number): Promise<void> {
  const chan = {};
  await _sleep(chan, null, 0, wmesg, Math.max(1, timo));
}

/** wakeup(9): make every thread asleep on chan runnable. */
export function wakeup(chan: unknown): void {
  kwakeup(curkernel(), chan);
}

/** wakeup with the kernel given (for code that may run before any CPU context). */
export function kwakeup(k: kernel, chan: unknown): void {
  const chain = k.sleepq_chains.get(chan);
  if (chain === undefined) return;
  k.sleepq_chains.delete(chan);
  for (const td of chain) {
    td.td_slpret = 0;
    setrunnable(k, td);
  }
}

/** wakeup_one(9): the longest sleeper on chan. */
export function wakeup_one(chan: unknown): void {
  const k = curkernel();
  const chain = k.sleepq_chains.get(chan);
  if (chain === undefined) return;
  const td = chain.shift()!;
  if (chain.length === 0) k.sleepq_chains.delete(chan);
  td.td_slpret = 0;
  setrunnable(k, td);
}

/** kern_yield(9): give the CPU to another runnable thread, if any. */
export async function kern_yield(_prio = PRI_USER): Promise<void> {
  const td = curthread();
  if (td.td_critnest > 0) {
    td.td_owepreempt = true;
    return;
  }
  await mi_switch();
}

/** maybe_yield(9): yield if the time slice is used up or a switch is owed. Either way
 *  the other CPUs get to run up to this CPU's time (on hardware they run in parallel; in
 *  the simulation a CPU that never gives the engine a turn would stop them). */
export async function maybe_yield(): Promise<void> {
  const td = curthread();
  if ((td.td_flags & TDF_NEEDRESCHED) !== 0 && td.td_critnest === 0 && td.td_md.md_spinlock_count === 0) await mi_switch();
  else await curkernel().machine.cpu_yield();
}

/** should_yield(9). */
export function should_yield(): boolean {
  return (curthread().td_flags & TDF_NEEDRESCHED) !== 0;
}

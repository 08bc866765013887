// sys/kern/subr_witness.c, a minimal WITNESS: tracks the locks each thread holds
// (td_locks) and panics on the errors the model must catch:
//  - sleeping (msleep, sx, M_WAITOK, ...) with a non-sleepable lock held or inside a
//    critical section or an interrupt handler;
//  - acquiring a sleepable lock (sx) with a non-sleepable one held;
//  - recursing on a non-recursive lock; releasing a lock not held;
//  - destroying a lock another thread holds.
//  - lock-order reversals: the first time lock B is taken while A is held, the order
//    A -> B is recorded (per kernel, by lock name, as WITNESS orders lock types); taking
//    A while B is held after that prints FreeBSD's "lock order reversal:" report on the
//    console, once per pair, and carries on (as WITNESS does without witness_kdb).
//    Only locks of the same kind are ordered (sleep locks among themselves, spin mutexes
//    among themselves). DIVERGENCE: tries are ordered like blocking acquisitions,
//    because the shim's spin_lock stands for a blocking mtx_lock but can only try.

import { current_cpu } from "../../machine/engine.js";
import { curthread } from "../sys/pcpu.js";
import { LC_SLEEPABLE, LC_SPINLOCK, type lock_object } from "../sys/lock.js";
import { panic } from "./kern_shutdown.js";
import { printf } from "./subr_prf.js";
import { curkernel } from "../sys/pcpu.js";
import type { kernel } from "../sys/kernel.js";

function describe(lo: lock_object): string {
  return `exclusive ${lo.lo_class.lc_name} ${lo.lo_name} (${lo.lo_name}) r = 0`;
}

/** Held locks that forbid sleeping: every mutex (sleep or spin). */
export function witness_nonsleepable_held(except: lock_object | null = null): lock_object[] {
  return curthread().td_locks.filter((l) => l !== except && (l.lo_class.lc_flags & LC_SLEEPABLE) === 0);
}

/**
 * WITNESS_WARN(WARN_SLEEPOK ...) plus the assertions of _sleep()/mi_switch(): the
 * current thread is about to sleep (or may sleep) in `what`.
 */
export function witness_warn_sleep(what: string, interlock: lock_object | null = null): void {
  const td = curthread();
  if (current_cpu().in_interrupt) panic(`${what}: sleeping in an interrupt handler (thread ${td.td_name})`);
  const held = witness_nonsleepable_held(interlock);
  if (held.length > 0)
    panic(`${what} with the following non-sleepable locks held:\n${held.map(describe).join("\n")}\nsleeping thread ${td.td_name} (tid ${td.td_tid}, pid ${td.td_proc.p_pid}) owns a non-sleepable lock`);
  if (td.td_critnest > 0)
    panic(`${what}: sleeping thread ${td.td_name} (tid ${td.td_tid}) in a critical section (td_critnest ${td.td_critnest})`);
}

/** Before blocking on a sleep mutex's turnstile: allowed with other sleep mutexes held
 *  (that is a block, not a sleep), not with a spin mutex or in a critical section. */
export function witness_warn_block(lo: lock_object): void {
  const td = curthread();
  if (current_cpu().in_interrupt) panic(`blocking on ${lo.lo_name} in an interrupt handler (thread ${td.td_name})`);
  const spin = td.td_locks.filter((l) => (l.lo_class.lc_flags & LC_SPINLOCK) !== 0);
  if (spin.length > 0 || td.td_critnest > 0)
    panic(`blocking on ${lo.lo_class.lc_name} ${lo.lo_name} with ${spin.length > 0 ? `spin lock ${spin[0].lo_name} held` : `td_critnest ${td.td_critnest}`} (thread ${td.td_name})`);
}

/** A kernel's lock-order graph: for each lock name, the names taken after it, and
 *  where that order was first seen; the reversals already reported. */
interface witness_order {
  readonly after: Map<string, Map<string, string>>;
  readonly reported: Set<string>;
}
const orders = new WeakMap<kernel, witness_order>();
const addrs = new WeakMap<lock_object, number>();
let next_addr = 0;

function witness_state(): witness_order {
  const k = curkernel();
  let w = orders.get(k);
  if (w === undefined) {
    w = { after: new Map(), reported: new Set() };
    orders.set(k, w);
  }
  return w;
}

/** A stand-in for the lock's kernel address in reports (stable per lock object). */
function lock_addr(lo: lock_object): string {
  let a = addrs.get(lo);
  if (a === undefined) {
    a = 0xfffff80000100000 + next_addr++ * 0x40;
    addrs.set(lo, a);
  }
  return `0x${a.toString(16)}`;
}

/** "@ file:line" of the code taking the lock: the first frame outside the lock code. */
function lock_site(): string {
  const frames = (new Error().stack ?? "").split("\n").slice(1);
  for (const f of frames) {
    const m = /([\w./-]+\.[jt]s):(\d+)/.exec(f);
    if (m === null) continue;
    if (/(subr_witness|kern_mutex|kern_sx|kern_sema)\.[jt]s$/.test(m[1])) continue;
    const i = m[1].search(/(host-freebsd|compat|kvm|test|userspace)\//);
    return `${i >= 0 ? m[1].slice(i) : m[1]}:${m[2]}`;
  }
  return "unknown";
}

const same_kind = (a: lock_object, b: lock_object): boolean => ((a.lo_class.lc_flags ^ b.lo_class.lc_flags) & LC_SPINLOCK) === 0;

/** Is `to` reachable from `from` in the order graph? */
function witness_reaches(w: witness_order, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of w.after.get(n)?.keys() ?? []) stack.push(m);
  }
  return false;
}

/** The order check of witness_checkorder: `lo` is being taken with `held` held. */
function witness_order_check(lo: lock_object): void {
  const w = witness_state();
  const site = lock_site();
  for (const h of curthread().td_locks) {
    if (h === lo || h.lo_name === lo.lo_name || !same_kind(h, lo)) continue;
    if (witness_reaches(w, lo.lo_name, h.lo_name)) {
      const key = `${h.lo_name}\0${lo.lo_name}`;
      if (w.reported.has(key)) continue;
      w.reported.add(key);
      const est = w.after.get(lo.lo_name)?.get(h.lo_name) ?? "(through other locks)";
      printf(
        "lock order reversal:\n" +
          ` 1st ${lock_addr(h)} ${h.lo_name} (${h.lo_name}, ${h.lo_class.lc_name}) @ ${h.lo_site ?? "unknown"}\n` +
          ` 2nd ${lock_addr(lo)} ${lo.lo_name} (${lo.lo_name}, ${lo.lo_class.lc_name}) @ ${site}\n` +
          `lock order ${lo.lo_name} -> ${h.lo_name} established at ${est}\n` +
          `stack backtrace: thread ${curthread().td_name}\n`,
      );
      continue;
    }
    let m = w.after.get(h.lo_name);
    if (m === undefined) w.after.set(h.lo_name, (m = new Map()));
    if (!m.has(lo.lo_name)) m.set(lo.lo_name, site);
  }
  lo.lo_site = site;
}

/** witness_checkorder: acquiring `lo`. */
export function witness_checkorder(lo: lock_object, recursable: boolean, owned_by_me: boolean): void {
  if (owned_by_me && !recursable) panic(`_mtx_lock_flags: recursed on non-recursive ${lo.lo_class.lc_name} ${lo.lo_name}`);
  if (!owned_by_me) witness_order_check(lo);
  if ((lo.lo_class.lc_flags & LC_SLEEPABLE) !== 0) {
    const held = witness_nonsleepable_held();
    if (held.length > 0)
      panic(`acquiring sleepable lock ${lo.lo_class.lc_name} ${lo.lo_name} with the following non-sleepable locks held:\n${held.map(describe).join("\n")}`);
  }
}

export function witness_lock(lo: lock_object): void {
  curthread().td_locks.push(lo);
}

export function witness_unlock(lo: lock_object): void {
  const locks = curthread().td_locks;
  const i = locks.lastIndexOf(lo);
  if (i < 0) panic(`lock (${lo.lo_class.lc_name}) ${lo.lo_name} not locked by this thread`);
  locks.splice(i, 1);
}

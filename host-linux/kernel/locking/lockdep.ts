// kernel/locking/lockdep.c (CONFIG_PROVE_LOCKING): the runtime locking correctness
// validator. Every lock belongs to a lock class; each task keeps the stack of locks it
// holds (held_locks); acquiring lock B while holding A records the dependency A -> B in
// one graph shared by all tasks. A new dependency that closes a cycle is a possible
// deadlock, reported when the order is first seen, whether or not the two tasks ever
// race for real. Also reported: taking a lock of a class the task already holds
// (recursion), releasing a lock the task does not hold, and holding locks when
// returning to user space or exiting.
//
// After the first report debug_locks is off (lib/debug_locks.c) and lockdep says
// nothing more, as Linux does.
//
// Lock classes: Linux keys a class by the static lock_class_key of the
// spin_lock_init/mutex_init call site and names it after the lock expression
// ("&kvm->lock"). DIVERGENCE: here the class is keyed by the name passed to the init
// call, so two init sites that pass the same name share a class (and one site's locks
// always do, as in Linux).
//
// DIVERGENCE: no irq-state tracking (the {+.+.} usage bits, "inconsistent lock state",
// irq-safe -> irq-unsafe), no wait-type checks, no read/recursive-read locks, no
// lock_class_key subclasses or nest_lock annotations (no mutex_lock_nested), and no
// stack traces: a report names the locking primitive ("at: mutex_lock") and, for each
// dependency in a chain, the task that first recorded it. Held locks are tracked even
// with PROVE_LOCKING off or after debug_locks_off (the model's return-to-user and
// might_sleep checks use them); only the validation and the reports stop.
//
// Locking: the graph and the held-lock stacks are touched only by synchronous code,
// so lockdep's graph_lock is implicit.

import { current_cpu } from "../../../machine/engine.js";
import type { linux_kernel } from "../../init/main.js";
import type { task_struct } from "../../include/linux/sched.js";
import { UTS_RELEASE, UTS_VERSION } from "../../include/linux/utsname.js";
import { get_current, this_cpu } from "../../arch/x86/kernel/percpu.js";
import { debug_locks_off } from "../../lib/debug_locks.js";
import { KERN_WARNING, printk } from "../printk/printk.js";

/** struct lock_class: one per key (here: per lock name). */
export class lock_class {
  /** locks_after: classes taken while one of this class was held, with the first
   *  record of each dependency (Linux keeps its stack trace). */
  readonly locks_after = new Map<lock_class, lock_dep>();
  constructor(readonly name: string) {}
}

/** What Linux's lock_list->trace stands for: who first took `after` under this class. */
interface lock_dep {
  readonly ip: string;
  readonly task: string;
}

/** struct lockdep_map, embedded in each lock. */
export interface lockdep_map {
  readonly name: string;
  readonly class: lock_class;
}

/** struct held_lock: one entry of a task's held_locks stack. */
export interface held_lock {
  /** The lock object itself (hlock->instance). */
  readonly instance: object;
  readonly class: lock_class;
  /** The locking primitive that took it (hlock->acquire_ip). */
  readonly acquire_ip: string;
  readonly trylock: boolean;
  /** 1 when taken in interrupt context: chains do not cross contexts. */
  readonly irq_context: number;
}

/** The validator's state, per kernel. */
export class lockdep_state {
  readonly classes = new Map<string, lock_class>();
  /** Dependencies recorded (nr_list_entries), for tests and /proc/lockdep_stats. */
  nr_dependencies = 0;
  constructor(readonly prove_locking: boolean) {}
}

/** lockdep_init_map: the class for `name` (registered on first use). */
export function lockdep_init_map(k: linux_kernel, name: string): lockdep_map {
  let c = k.lockdep.classes.get(name);
  if (c === undefined) k.lockdep.classes.set(name, (c = new lock_class(name)));
  return { name, class: c };
}

/** lockdep_enabled(): PROVE_LOCKING built in and no report made yet. */
const lockdep_enabled = (k: linux_kernel): boolean => k.lockdep.prove_locking && k.debug_locks;

/** The held-lock names, for the model's own reports (might_sleep, return to user). */
export const held_lock_names = (t: task_struct): string => t.held_locks.map((h) => h.class.name).join(", ");

// --- reports ------------------------------------------------------------------------

function pr_warn(k: linux_kernel, ...lines: string[]): void {
  for (const l of lines) printk(k, KERN_WARNING, l);
}

/** print_kernel_ident: release, version up to the first space, taint. */
function print_kernel_ident(k: linux_kernel): string {
  return `${UTS_RELEASE} ${UTS_VERSION.split(" ")[0]} ${k.warnings > 0 ? "Tainted: G        W" : "Not tainted"}`;
}

function banner(k: linux_kernel, title: string, rule = title.length): void {
  pr_warn(k, "", "=".repeat(rule), title, print_kernel_ident(k), "-".repeat(rule));
}

const task_name = (t: task_struct): string => `${t.comm}/${t.pid}`;
const print_lock = (h: held_lock): string => `(${h.class.name}), at: ${h.acquire_ip}`;

/** lockdep_print_held_locks' lines (also what debug_show_held_locks prints). */
export function held_locks_lines(t: task_struct): string[] {
  const depth = t.held_locks.length;
  if (depth === 0) return [`no locks held by ${task_name(t)}.`];
  return [`${depth} lock${depth > 1 ? "s" : ""} held by ${task_name(t)}:`, ...t.held_locks.map((h, i) => ` #${i}: ${print_lock(h)}`)];
}

function lockdep_print_held_locks(k: linux_kernel, t: task_struct): void {
  pr_warn(k, ...held_locks_lines(t));
}

/** dump_stack's first line; the model has no call trace to print. */
function dump_stack(k: linux_kernel, t: task_struct): void {
  pr_warn(k, "", "stack backtrace:", `CPU: ${this_cpu(k).cpu_number} PID: ${t.pid} Comm: ${t.comm} ${print_kernel_ident(k)}`);
}

function print_deadlock_bug(k: linux_kernel, curr: task_struct, prev: held_lock, next: held_lock): void {
  if (!debug_locks_off(k)) return;
  banner(k, "WARNING: possible recursive locking detected");
  pr_warn(k, `${task_name(curr)} is trying to acquire lock:`, print_lock(next), "", "but task is already holding lock:", print_lock(prev));
  pr_warn(k, "", "other info that might help us debug this:");
  // print_deadlock_scenario
  pr_warn(k, " Possible unsafe locking scenario:", "", "       CPU0", "       ----", `  lock(${prev.class.name});`, `  lock(${next.class.name});`);
  pr_warn(k, "", " *** DEADLOCK ***", "", " May be due to missing lock nesting notation", "");
  lockdep_print_held_locks(k, curr);
  dump_stack(k, curr);
}

/**
 * print_circular_bug: `path` runs from the class being acquired (next, depth 0) along
 * recorded dependencies to the class of the held lock (prev, depth path.length - 1);
 * with the new prev -> next it would close the cycle.
 */
function print_circular_bug(k: linux_kernel, curr: task_struct, next: held_lock, prev: held_lock, path: lock_list[]): void {
  if (!debug_locks_off(k)) return;
  banner(k, "WARNING: possible circular locking dependency detected");
  pr_warn(k, `${task_name(curr)} is trying to acquire lock:`, print_lock(next), "", "but task is already holding lock:", print_lock(prev));
  pr_warn(k, "", "which lock already depends on the new lock.", "", "", "the existing dependency chain (in reverse order) is:");
  for (let depth = path.length - 1; depth >= 0; depth--) {
    const e = path[depth];
    // The root's trace is this acquisition; the others are the recorded dependencies.
    const trace = e.dep === null ? `${next.acquire_ip} (${task_name(curr)})` : `${e.dep.ip} (${e.dep.task})`;
    pr_warn(k, "", `-> #${depth} (${e.cls.name}):`, `       ${trace}`);
  }
  pr_warn(k, "", "other info that might help us debug this:", "");
  // print_circular_lock_scenario: source = next, target = prev, parent = the class
  // just before the target on the chain.
  const source = next.class.name;
  const target = prev.class.name;
  const parent = path[path.length - 2].cls.name;
  if (parent !== source) pr_warn(k, "Chain exists of:", `  ${source} --> ${parent} --> ${target}`, "");
  pr_warn(k, " Possible unsafe locking scenario:", "", "       CPU0                    CPU1", "       ----                    ----");
  pr_warn(k, `  lock(${target});`, `                               lock(${parent});`, `                               lock(${target});`, `  lock(${source});`);
  pr_warn(k, "", " *** DEADLOCK ***", "");
  lockdep_print_held_locks(k, curr);
  dump_stack(k, curr);
}

function print_unlock_imbalance_bug(k: linux_kernel, curr: task_struct, name: string, ip: string): void {
  if (!debug_locks_off(k)) return;
  banner(k, "WARNING: bad unlock balance detected!");
  pr_warn(k, `${task_name(curr)} is trying to release lock (${name}) at:`, ip, "but there are no more locks to release!");
  pr_warn(k, "", "other info that might help us debug this:");
  lockdep_print_held_locks(k, curr);
  dump_stack(k, curr);
}

// --- the dependency graph -------------------------------------------------------------

/** check_noncircular's breadth-first search from `src` along locks_after for `target`:
 *  the path [src, ..., target] with the dependency that reached each, or null. */
type lock_list = { cls: lock_class; dep: lock_dep | null };
type bfs_parent = { from: lock_class; dep: lock_dep } | null;

function bfs_path(src: lock_class, target: lock_class): lock_list[] | null {
  const parent = new Map<lock_class, bfs_parent>([[src, null]]);
  const queue: lock_class[] = [src];
  for (let i = 0; i < queue.length; i++) {
    const c = queue[i];
    if (c === target) {
      const path: lock_list[] = [];
      for (let x: lock_class | null = c; x !== null; ) {
        const p: bfs_parent = parent.get(x) ?? null;
        path.unshift({ cls: x, dep: p === null ? null : p.dep });
        x = p === null ? null : p.from;
      }
      return path;
    }
    for (const [after, dep] of c.locks_after) {
      if (parent.has(after)) continue;
      parent.set(after, { from: c, dep });
      queue.push(after);
    }
  }
  return null;
}

/** check_prev_add: record prev -> next unless it would close a cycle (false). */
function check_prev_add(k: linux_kernel, curr: task_struct, prev: held_lock, next: held_lock): boolean {
  // An existing dependency was checked when it was added.
  if (prev.class.locks_after.has(next.class)) return true;
  const path = bfs_path(next.class, prev.class);
  if (path !== null) {
    print_circular_bug(k, curr, next, prev, path);
    return false;
  }
  prev.class.locks_after.set(next.class, { ip: next.acquire_ip, task: task_name(curr) });
  k.lockdep.nr_dependencies++;
  return true;
}

/** validate_chain: check_deadlock, then check_prevs_add (dependencies from the most
 *  recent held lock, and from the trylocks above the first non-trylock below it, in the
 *  same irq context; the older ones already depend on those). */
function validate_chain(k: linux_kernel, curr: task_struct, next: held_lock): void {
  for (const prev of curr.held_locks) {
    if (prev.class === next.class) {
      print_deadlock_bug(k, curr, prev, next);
      return;
    }
  }
  for (let depth = curr.held_locks.length - 1; depth >= 0; depth--) {
    const prev = curr.held_locks[depth];
    if (prev.irq_context !== next.irq_context) break;
    if (!check_prev_add(k, curr, prev, next)) return;
    if (!prev.trylock) break;
  }
}

// --- the annotations the lock primitives call ----------------------------------------

/** lock_acquire: `instance` (of class map) is being taken by current. A trylock is
 *  not validated (it cannot deadlock) but later acquisitions depend on it. */
export function lock_acquire(k: linux_kernel, map: lockdep_map, instance: object, trylock: boolean, ip: string): void {
  const curr = get_current(k);
  const hlock: held_lock = { instance, class: map.class, acquire_ip: ip, trylock, irq_context: current_cpu().in_interrupt ? 1 : 0 };
  if (!trylock && lockdep_enabled(k)) validate_chain(k, curr, hlock);
  curr.held_locks.push(hlock);
}

/** lock_release: current releases `instance`; false (and, the first time, a report)
 *  when it does not hold it. */
export function lock_release(k: linux_kernel, map: lockdep_map, instance: object, ip: string): boolean {
  const curr = get_current(k);
  if (lockdep_drop_held(curr, instance)) return true;
  if (lockdep_enabled(k)) print_unlock_imbalance_bug(k, curr, map.name, ip);
  return false;
}

/** Remove `instance` from t's held locks (model bookkeeping: a lock released by
 *  another task, such as a mutex unlocked by a non-owner, leaves its holder's stack). */
export function lockdep_drop_held(t: task_struct, instance: object): boolean {
  for (let i = t.held_locks.length - 1; i >= 0; i--) {
    if (t.held_locks[i].instance === instance) {
      t.held_locks.splice(i, 1);
      return true;
    }
  }
  return false;
}

/** lockdep_sys_exit: on the way back to user space no lock may be held. */
export function lockdep_sys_exit(k: linux_kernel): void {
  const curr = get_current(k);
  if (curr.held_locks.length === 0 || !lockdep_enabled(k) || !debug_locks_off(k)) return;
  banner(k, "WARNING: lock held when returning to user space!");
  pr_warn(k, `${task_name(curr)} is leaving the kernel with locks still held!`);
  lockdep_print_held_locks(k, curr);
}

/** debug_check_no_locks_held (do_exit): print_held_locks_bug. */
export function debug_check_no_locks_held(k: linux_kernel): void {
  const curr = get_current(k);
  if (curr.held_locks.length === 0 || !lockdep_enabled(k) || !debug_locks_off(k)) return;
  banner(k, `WARNING: ${task_name(curr)} still has locks held!`, 36);
  lockdep_print_held_locks(k, curr);
  dump_stack(k, curr);
}

/** lockdep_info: the boot line. */
export function lockdep_info(k: linux_kernel): void {
  if (k.lockdep.prove_locking) printk(k, "<6>", "Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar");
}

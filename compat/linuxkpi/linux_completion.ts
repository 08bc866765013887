// sys/compat/linuxkpi/common/include/linux/completion.h and the completion part of
// src/linux_schedule.c: struct completion is a done count, and its waiters sleep on a
// sleep queue keyed by the completion (sleepq_add / sleepq_wait, here _sleep on the
// channel); complete() is sleepq_signal (the longest sleeper), complete_all()
// sleepq_broadcast. jiffies are FreeBSD's ticks and HZ is hz.
//
// The check of `done` and the sleepq_add are one synchronous step (the sleepq chain
// lock is implicit), so a complete() cannot slip between them.
//
// DIVERGENCE: a wait that finds the completion done does not sleep and so is not
// checked: Linux's wait_for_completion calls might_sleep() first and reports a wait in
// atomic context even then; WITNESS only sees the waits that sleep.

import { curkernel } from "../../host-freebsd/sys/pcpu.js";
import { EWOULDBLOCK } from "../../host-freebsd/sys/errno.js";
import { panic } from "../../host-freebsd/kern/kern_shutdown.js";
import { PCATCH, tsleep, wakeup, wakeup_one } from "../../host-freebsd/kern/kern_synch.js";
import { ERESTARTSYS } from "../linux/errno.js";
import type { completion } from "../linux/completion_types.js";

const UINT_MAX = 0xffffffff;

/** struct completion { unsigned int done; }: the channel its waiters sleep on. */
class linux_completion {
  done = 0;
}

function comp(x: completion, what: string): linux_completion {
  if (!(x.impl instanceof linux_completion)) panic(`${what}: completion not initialized (init_completion)`);
  return x.impl;
}

/** Take one event: complete_all's UINT_MAX stays done for every waiter. */
function consume(c: linux_completion): void {
  if (c.done !== UINT_MAX) c.done--;
}

/** init_completion: `(c)->done = 0`. */
export function linux_init_completion(x: completion): void {
  x.impl = new linux_completion();
}

export function linux_reinit_completion(x: completion): void {
  comp(x, "reinit_completion").done = 0;
}

/** linux_complete_common. */
export function linux_complete_common(x: completion, all: boolean): void {
  const c = comp(x, all ? "complete_all" : "complete");
  if (all) {
    c.done = UINT_MAX;
    wakeup(c);
  } else {
    if (c.done !== UINT_MAX) c.done++;
    wakeup_one(c);
  }
}

/** linux_wait_for_common: 0, or -ERESTARTSYS when a signal ended an interruptible wait. */
export async function linux_wait_for_common(x: completion, interruptible: boolean): Promise<number> {
  const c = comp(x, "wait_for_completion");
  while (c.done === 0) {
    const error = await tsleep(c, interruptible ? PCATCH : 0, "completion", 0);
    if (error !== 0) return -ERESTARTSYS;
  }
  consume(c);
  return 0;
}

/** linux_timer_jiffies_until: ticks left until `end`, at least 1. */
const linux_timer_jiffies_until = (end: number): number => Math.max(1, end - curkernel().ticks);

/** linux_wait_for_timeout_common: 0 on timeout, else the ticks left (at least 1). */
export async function linux_wait_for_timeout_common(x: completion, timeout: number, interruptible: boolean): Promise<number> {
  const c = comp(x, "wait_for_completion_timeout");
  const end = curkernel().ticks + timeout;
  while (c.done === 0) {
    const error = await tsleep(c, interruptible ? PCATCH : 0, "completion", linux_timer_jiffies_until(end));
    if (error !== 0) return error === EWOULDBLOCK ? 0 : -ERESTARTSYS;
  }
  consume(c);
  return linux_timer_jiffies_until(end);
}

export function linux_try_wait_for_completion(x: completion): boolean {
  const c = comp(x, "try_wait_for_completion");
  if (c.done === 0) return false;
  consume(c);
  return true;
}

export const linux_completion_done = (x: completion): boolean => comp(x, "completion_done").done !== 0;

/** msecs_to_jiffies: howmany(msec * hz, 1000). */
export const linux_msecs_to_jiffies = (m: number): number => Math.ceil((Math.max(0, m) * curkernel().hz) / 1000);

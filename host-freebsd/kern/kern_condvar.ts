// sys/kern/kern_condvar.c: condition variables. A waiter holds the interlock mutex,
// cv_wait releases it while asleep and takes it back before returning.

import { curthread } from "../sys/pcpu.js";
import { panic } from "./kern_shutdown.js";
import { mtx_owned, msleep, type mtx } from "./kern_mutex.js";
import { PCATCH, wakeup, wakeup_one } from "./kern_synch.js";
import { EWOULDBLOCK } from "../sys/errno.js";

export class cv {
  cv_waiters = 0;
  constructor(public cv_description = "cv") {}
}

export function cv_init(c: cv, desc: string): void {
  c.cv_description = desc;
  c.cv_waiters = 0;
}

export function cv_destroy(c: cv): void {
  if (c.cv_waiters !== 0) panic(`cv_destroy: ${c.cv_description} has ${c.cv_waiters} waiters`);
}

async function _cv_wait(c: cv, m: mtx, sig: boolean, timo: number): Promise<number> {
  if (!mtx_owned(m)) panic(`cv_wait: ${c.cv_description}: interlock not owned by ${curthread().td_name}`);
  c.cv_waiters++;
  try {
    return await msleep(c, m, sig ? PCATCH : 0, c.cv_description, timo);
  } finally {
    c.cv_waiters--;
  }
}

export async function cv_wait(c: cv, m: mtx): Promise<void> {
  await _cv_wait(c, m, false, 0);
}
/** cv_wait_sig: 0, or EINTR when a signal arrives. */
export const cv_wait_sig = (c: cv, m: mtx): Promise<number> => _cv_wait(c, m, true, 0);
/** cv_timedwait: 0, or EWOULDBLOCK after `timo` ticks. */
export async function cv_timedwait(c: cv, m: mtx, timo: number): Promise<number> {
  const e = await _cv_wait(c, m, false, timo);
  return e === EWOULDBLOCK ? EWOULDBLOCK : 0;
}

export function cv_signal(c: cv): void {
  if (c.cv_waiters > 0) wakeup_one(c);
}

export function cv_broadcast(c: cv): void {
  if (c.cv_waiters > 0) wakeup(c);
}

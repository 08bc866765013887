// sys/kern/kern_sema.c: counting semaphores, built on a mutex and a condition
// variable. Unlike mutexes they have no owner: WITNESS does not track them, any thread
// may post, and waiting is not interruptible by signals.
//
// Model note: the backing mutex is only ever held across synchronous code (cv_wait
// drops it while asleep), so it is never found held by another thread; sema_post is
// therefore synchronous here (it cannot block), which lets it back an unlock that the
// caller cannot await.

import { panic } from "./kern_shutdown.js";
import { mtx, mtx_destroy, mtx_init, mtx_lock, mtx_trylock, mtx_unlock, MTX_DEF } from "./kern_mutex.js";
import { cv, cv_destroy, cv_init, cv_signal, cv_timedwait, cv_wait } from "./kern_condvar.js";
import { EWOULDBLOCK } from "../sys/errno.js";

export class sema {
  readonly sema_mtx = new mtx("sema");
  readonly sema_cv = new cv("sema");
  sema_value = 0;
  sema_waiters = 0;
}

export function sema_init(s: sema, value: number, description: string): void {
  if (!Number.isInteger(value) || value < 0) panic(`sema_init: bad value ${value}`);
  mtx_init(s.sema_mtx, "sema backing lock", null, MTX_DEF);
  cv_init(s.sema_cv, description);
  s.sema_value = value;
  s.sema_waiters = 0;
}

export function sema_destroy(s: sema): void {
  if (s.sema_waiters !== 0) panic(`sema_destroy: ${s.sema_cv.cv_description} has waiters`);
  cv_destroy(s.sema_cv);
  mtx_destroy(s.sema_mtx);
}

export function sema_post(s: sema): void {
  if (!mtx_trylock(s.sema_mtx)) panic(`sema_post: backing lock of ${s.sema_cv.cv_description} contested`);
  s.sema_value++;
  if (s.sema_waiters > 0) cv_signal(s.sema_cv);
  mtx_unlock(s.sema_mtx);
}

export async function sema_wait(s: sema): Promise<void> {
  await mtx_lock(s.sema_mtx);
  while (s.sema_value === 0) {
    s.sema_waiters++;
    await cv_wait(s.sema_cv, s.sema_mtx);
    s.sema_waiters--;
  }
  s.sema_value--;
  mtx_unlock(s.sema_mtx);
}

/** sema_timedwait: 0, or EWOULDBLOCK if `timo` ticks pass first. */
export async function sema_timedwait(s: sema, timo: number): Promise<number> {
  await mtx_lock(s.sema_mtx);
  let error = 0;
  while (s.sema_value === 0 && error === 0) {
    s.sema_waiters++;
    error = await cv_timedwait(s.sema_cv, s.sema_mtx, timo);
    s.sema_waiters--;
  }
  if (s.sema_value > 0) {
    s.sema_value--;
    error = 0;
  }
  mtx_unlock(s.sema_mtx);
  return error === EWOULDBLOCK ? EWOULDBLOCK : 0;
}

export async function sema_trywait(s: sema): Promise<boolean> {
  await mtx_lock(s.sema_mtx);
  const ok = s.sema_value > 0;
  if (ok) s.sema_value--;
  mtx_unlock(s.sema_mtx);
  return ok;
}

export const sema_value = (s: sema): number => s.sema_value;

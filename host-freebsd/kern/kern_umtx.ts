// sys/kern/kern_umtx.c, reduced: _umtx_op's wait and wake, the primitive libthr builds
// its mutexes and condition variables on (Linux's futex).
//   UMTX_OP_WAIT (long) / UMTX_OP_WAIT_UINT[_PRIVATE] (u_int): if the word at obj
//     still holds val, sleep until woken, a signal (EINTR) or the timeout (ETIMEDOUT);
//     if it does not, return 0 at once. Check and sleep are atomic (synchronous).
//   UMTX_OP_WAKE[_PRIVATE]: wake up to val waiters; returns 0.
// Keys are (address space, address): sharing a wait word between processes is not
// modelled.

import { curkernel } from "../sys/pcpu.js";
import { EFAULT, EINVAL, ETIMEDOUT, EWOULDBLOCK } from "../sys/errno.js";
import type { thread } from "../sys/proc.js";
import type { kernel } from "../sys/kernel.js";
import { copyin } from "../amd64/support.js";
import { PCATCH, tsleep, wakeup_one } from "./kern_synch.js";

export const UMTX_OP_WAIT = 2;
export const UMTX_OP_WAKE = 3;
export const UMTX_OP_WAIT_UINT = 11;
export const UMTX_OP_WAIT_UINT_PRIVATE = 15;
export const UMTX_OP_WAKE_PRIVATE = 16;

/** The wait channel of one user word. */
function umtx_key(k: kernel, td: thread, addr: number): object {
  const vs = td.td_proc.p_vmspace;
  let chains = k.umtx_keys.get(vs);
  if (chains === undefined) k.umtx_keys.set(vs, (chains = new Map()));
  let key = chains.get(addr);
  if (key === undefined) chains.set(addr, (key = { addr }));
  return key;
}

/** kern_umtx_wake: wake up to n waiters on addr. */
export function kern_umtx_wake(td: thread, addr: number, n: number): void {
  const k = curkernel();
  const key = umtx_key(k, td, addr);
  for (let i = 0; i < n && k.sleepq_chains.has(key); i++) wakeup_one(key);
}

/** Ticks for a struct timespec {tv_sec, tv_nsec} at uaddr (0 = none), or an errno. */
function umtx_timeout(k: kernel, uaddr2: number, size: number): { error: number; ticks: number } {
  if (uaddr2 === 0) return { error: 0, ticks: 0 };
  if (size < 16) return { error: EINVAL, ticks: 0 };
  const b = new Uint8Array(16);
  if (copyin(uaddr2, b, 16) !== 0) return { error: EFAULT, ticks: 0 };
  const v = new DataView(b.buffer);
  const sec = Number(v.getBigInt64(0, true));
  const nsec = Number(v.getBigInt64(8, true));
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return { error: EINVAL, ticks: 0 };
  return { error: 0, ticks: Math.max(1, Math.ceil((sec * 1e9 + nsec) / (1e9 / k.hz))) };
}

export async function sys__umtx_op(td: thread, obj: number, op: number, val: bigint, uaddr1: number, uaddr2: number): Promise<number> {
  const k = curkernel();
  switch (op) {
    case UMTX_OP_WAKE:
    case UMTX_OP_WAKE_PRIVATE:
      kern_umtx_wake(td, obj, Math.max(0, Number(BigInt.asIntN(32, val))));
      return 0;
    case UMTX_OP_WAIT:
    case UMTX_OP_WAIT_UINT:
    case UMTX_OP_WAIT_UINT_PRIVATE: {
      const t = umtx_timeout(k, uaddr2, uaddr1);
      if (t.error !== 0) return t.error;
      const wide = op === UMTX_OP_WAIT;
      const b = new Uint8Array(wide ? 8 : 4);
      if (copyin(obj, b) !== 0) return EFAULT;
      const v = new DataView(b.buffer);
      const cur = wide ? BigInt.asUintN(64, v.getBigUint64(0, true)) : BigInt(v.getUint32(0, true));
      const want = wide ? BigInt.asUintN(64, val) : BigInt.asUintN(32, val);
      if (cur !== want) return 0;
      const error = await tsleep(umtx_key(k, td, obj), PCATCH, "uwait", t.ticks);
      return error === EWOULDBLOCK ? ETIMEDOUT : error;
    }
    default:
      return EINVAL;
  }
}

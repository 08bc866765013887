// kernel/futex/syscalls.c: futex(2) — do_futex's dispatch of the operations.
//
// Implemented: FUTEX_WAIT (relative timeout), FUTEX_WAKE, FUTEX_WAIT_BITSET (absolute
// timeout on CLOCK_MONOTONIC, or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME: the same
// clock here, there is no RTC), FUTEX_WAKE_BITSET, each with or without
// FUTEX_PRIVATE_FLAG. The other operations of Linux (requeue, wake-op, PI) return
// -ENOSYS and say so in the log, naming what was asked for.

import type { linux_kernel } from "../../init/main.js";
import { EFAULT, EINVAL, ENOSYS } from "../../include/linux/errno.js";
import {
  FUTEX_BITSET_MATCH_ANY,
  FUTEX_CLOCK_REALTIME,
  FUTEX_CMD_MASK,
  FUTEX_LOCK_PI2,
  FUTEX_PRIVATE_FLAG,
  FUTEX_WAIT,
  FUTEX_WAIT_BITSET,
  FUTEX_WAIT_REQUEUE_PI,
  FUTEX_WAKE,
  FUTEX_WAKE_BITSET,
  futex_op_names,
} from "../../include/uapi/linux/futex.js";
import { get_current } from "../../arch/x86/kernel/percpu.js";
import { copy_from_user } from "../../lib/usercopy.js";
import { KERN_WARNING, printk } from "../printk/printk.js";
import { FLAGS_CLOCKRT, FLAGS_SHARED } from "./core.js";
import { ktime_get_ns, ns_to_cycles } from "../time/hrtimer.js";
import { futex_wait, futex_wake } from "./waitwake.js";

const NSEC_PER_SEC = 1_000_000_000n;

/** futex_cmd_has_timeout: the operations whose 4th argument is a timeout. */
const futex_cmd_has_timeout = (cmd: number): boolean =>
  cmd === FUTEX_WAIT || cmd === 6 /* FUTEX_LOCK_PI */ || cmd === FUTEX_LOCK_PI2 || cmd === FUTEX_WAIT_BITSET || cmd === FUTEX_WAIT_REQUEUE_PI;

function not_implemented(k: linux_kernel, what: string): number {
  const cur = get_current(k);
  printk(k, KERN_WARNING, `futex: ${cur.comm}[${cur.pid}]: ${what} not implemented in this model`);
  return -ENOSYS;
}

export async function do_futex(k: linux_kernel, uaddr: number, op: number, val: number, utime: number, val3: number): Promise<number> {
  const cmd = op & FUTEX_CMD_MASK;
  let flags = 0;
  if ((op & FUTEX_PRIVATE_FLAG) === 0) flags |= FLAGS_SHARED;
  if (op & FUTEX_CLOCK_REALTIME) {
    flags |= FLAGS_CLOCKRT;
    if (cmd !== FUTEX_WAIT_BITSET && cmd !== FUTEX_WAIT_REQUEUE_PI && cmd !== FUTEX_LOCK_PI2) return -ENOSYS;
  }
  let abs_time: number | null = null;
  if (utime !== 0 && futex_cmd_has_timeout(cmd)) {
    // struct __kernel_timespec { s64 tv_sec; long long tv_nsec; }
    const ts = new Uint8Array(16);
    if ((await copy_from_user(k, ts, utime as never, 16)) !== 0) return -EFAULT;
    const dv = new DataView(ts.buffer);
    const sec = dv.getBigInt64(0, true);
    const nsec = dv.getBigInt64(8, true);
    if (sec < 0n || nsec < 0n || nsec >= NSEC_PER_SEC) return -EINVAL;
    // FUTEX_WAIT's timeout is relative; the others' absolute.
    let t = sec * NSEC_PER_SEC + nsec;
    if (cmd === FUTEX_WAIT) t += ktime_get_ns(k);
    abs_time = ns_to_cycles(t);
  }
  switch (cmd) {
    case FUTEX_WAIT:
      return futex_wait(k, uaddr, flags, val, abs_time, FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAIT_BITSET:
      return futex_wait(k, uaddr, flags, val, abs_time, val3 >>> 0);
    case FUTEX_WAKE:
      return futex_wake(k, uaddr, flags, val | 0, FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAKE_BITSET:
      return futex_wake(k, uaddr, flags, val | 0, val3 >>> 0);
    default:
      if (futex_op_names[cmd] !== undefined) return not_implemented(k, futex_op_names[cmd]);
      return -ENOSYS;
  }
}

/** futex(2): futex(u32 *uaddr, int op, u32 val, const struct __kernel_timespec *utime,
 *  u32 *uaddr2, u32 val3). */
export function sys_futex(k: linux_kernel, uaddr: number, op: number, val: number, utime: number, _uaddr2: number, val3: number): Promise<number> {
  return do_futex(k, uaddr, op, val, utime, val3);
}

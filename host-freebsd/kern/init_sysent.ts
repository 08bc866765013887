// sys/kern/init_sysent.c: the system call table (FreeBSD amd64 numbers). Each entry
// gets the raw argument registers and returns 0 or a positive errno; results go in
// td_retval.

import { SYS_close, SYS_exit, SYS_getpid, SYS_ioctl, SYS_kill, SYS_kldload, SYS_mmap, SYS_munmap, SYS_open, SYS_read, SYS_write } from "../sys/syscall.js";
import type { thread } from "../sys/proc.js";
import type { UserEntry } from "../../machine/syscall.js";
import { SYS_sched_yield, SYS_thr_exit, SYS_thr_kill, SYS_thr_kill2, SYS_thr_new, SYS_thr_self, SYS_umtx_op } from "../sys/syscall.js";
import { kern_thr_exit, sys_thr_new, sys_thr_self } from "./kern_thr.js";
import { sys__umtx_op } from "./kern_umtx.js";
import { kern_yield } from "./kern_synch.js";
import { sys_ioctl, sys_read, sys_write } from "./sys_generic.js";
import { kern_close } from "./kern_descrip.js";
import { kern_openat } from "./vfs_syscalls.js";
import { kern_kill, kern_thr_kill } from "./kern_sig.js";
import { exit1 } from "./kern_exit.js";
import { kern_mmap, kern_munmap } from "../vm/vm_mmap.js";
import { copyinstr } from "../amd64/support.js";
import { kern_kldload } from "./kern_linker.js";
import { SYS___sysctlbyname } from "../sys/syscall.js";
import { sys___sysctlbyname } from "./kern_sysctl.js";

export type sy_call_t = (td: thread, a: readonly bigint[], code?: UserEntry) => Promise<number>;

/** int arguments are the low 32 bits, sign-extended. */
const int = (v: bigint | undefined) => Number(BigInt.asIntN(32, v ?? 0n));
/** Pointers and sizes: unsigned 64-bit (large values fail range checks later). */
const ulong = (v: bigint | undefined) => Number(BigInt.asUintN(64, v ?? 0n));
const MAXPATHLEN = 1024;

export const sysent: Record<number, sy_call_t> = {
  [SYS_exit]: (td, a) => exit1(td, int(a[0]) & 0xff, 0),
  [SYS_read]: (td, a) => sys_read(td, int(a[0]), ulong(a[1]), ulong(a[2])),
  [SYS_write]: (td, a) => sys_write(td, int(a[0]), ulong(a[1]), ulong(a[2])),
  [SYS_open]: async (td, a) => {
    const s = copyinstr(ulong(a[0]), MAXPATHLEN);
    if (s.error !== 0) return s.error;
    return kern_openat(td, s.str, int(a[1]));
  },
  [SYS_close]: (td, a) => kern_close(td, int(a[0])),
  [SYS_getpid]: async (td) => {
    td.td_retval[0] = BigInt(td.td_proc.p_pid);
    return 0;
  },
  [SYS_kill]: async (td, a) => kern_kill(td, int(a[0]), int(a[1])),
  [SYS_ioctl]: (td, a) => sys_ioctl(td, int(a[0]), a[1] ?? 0n, a[2] ?? 0n),
  [SYS_munmap]: (td, a) => kern_munmap(td, ulong(a[0]), ulong(a[1])),
  [SYS_mmap]: (td, a) => kern_mmap(td, ulong(a[0]), ulong(a[1]), int(a[2]), int(a[3]), int(a[4]), ulong(a[5])),
  [SYS_sched_yield]: async () => {
    await kern_yield();
    return 0;
  },
  [SYS_thr_new]: (td, a, code) => sys_thr_new(td, ulong(a[0]), int(a[1]), code),
  [SYS_thr_exit]: (td, a) => kern_thr_exit(td, ulong(a[0])),
  [SYS_thr_self]: async (td, a) => sys_thr_self(td, ulong(a[0])),
  [SYS_thr_kill]: async (_td, a) => kern_thr_kill(-1, Number(BigInt.asIntN(64, a[0] ?? 0n)), int(a[1])),
  [SYS_thr_kill2]: async (_td, a) => kern_thr_kill(int(a[0]), Number(BigInt.asIntN(64, a[1] ?? 0n)), int(a[2])),
  [SYS_umtx_op]: (td, a) => sys__umtx_op(td, ulong(a[0]), int(a[1]), a[2] ?? 0n, ulong(a[3]), ulong(a[4])),
  [SYS_kldload]: async (td, a) => {
    const s = copyinstr(ulong(a[0]), MAXPATHLEN);
    if (s.error !== 0) return s.error;
    const r = await kern_kldload(td, s.str);
    if (r.error === 0) td.td_retval[0] = BigInt(r.fileid);
    return r.error;
  },
  [SYS___sysctlbyname]: (td, a) => sys___sysctlbyname(td, ulong(a[0]), ulong(a[1]), ulong(a[2]), ulong(a[3]), ulong(a[4]), ulong(a[5])),
};

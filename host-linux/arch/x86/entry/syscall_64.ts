// arch/x86/entry/syscalls/syscall_64.tbl: the system calls of this model by their
// x86-64 numbers, with the register arguments converted to the C types of each
// prototype (int fd, unsigned int cmd, unsigned long arg, size_t, off_t).

import type { Uva } from "../../../../machine/addr.js";
import type { UserEntry } from "../../../../machine/syscall.js";
import type { linux_kernel } from "../../../init/main.js";
import { ksys_lseek, ksys_read, ksys_write } from "../../../fs/read_write.js";
import { sys_getdents64 } from "../../../fs/readdir.js";
import { do_sys_open, sys_close } from "../../../fs/open.js";
import { sys_ioctl } from "../../../fs/ioctl.js";
import { sys_mmap, sys_munmap } from "../../../mm/mmap.js";
import { sys_exit, sys_exit_group } from "../../../kernel/exit.js";
import { sys_arch_prctl, sys_getpid, sys_gettid, sys_pause, sys_sched_yield } from "../../../kernel/sys.js";
import { kill_pid, sys_tgkill, sys_tkill } from "../../../kernel/signal.js";
import { sys_clone, sys_set_tid_address } from "../../../kernel/fork.js";
import { sys_futex } from "../../../kernel/futex/syscalls.js";

/** A system call: the kernel, the six register arguments, and for clone the user entry
 *  the new thread starts at (machine/syscall.ts syscall_with_entry). */
type sys_call_ptr_t = (k: linux_kernel, args: readonly bigint[], code?: UserEntry) => Promise<number>;

const int = (a: bigint | undefined): number => Number(BigInt.asIntN(32, a ?? 0n));
const uint = (a: bigint | undefined): number => Number(BigInt.asUintN(32, a ?? 0n));
const ulong = (a: bigint | undefined): number => Number(BigInt.asUintN(64, a ?? 0n));
const long = (a: bigint | undefined): number => Number(BigInt.asIntN(64, a ?? 0n));

export const __NR_read = 0;
export const __NR_write = 1;
export const __NR_open = 2;
export const __NR_close = 3;
export const __NR_lseek = 8;
export const __NR_mmap = 9;
export const __NR_munmap = 11;
export const __NR_ioctl = 16;
export const __NR_sched_yield = 24;
export const __NR_pause = 34;
export const __NR_getpid = 39;
export const __NR_clone = 56;
export const __NR_exit = 60;
export const __NR_kill = 62;
export const __NR_arch_prctl = 158;
export const __NR_gettid = 186;
export const __NR_tkill = 200;
export const __NR_futex = 202;
export const __NR_getdents64 = 217;
export const __NR_set_tid_address = 218;
export const __NR_exit_group = 231;
export const __NR_tgkill = 234;

export const sys_call_table: Record<number, sys_call_ptr_t> = {
  [__NR_read]: (k, a) => ksys_read(k, int(a[0]), ulong(a[1]) as Uva, long(a[2])),
  [__NR_write]: (k, a) => ksys_write(k, int(a[0]), ulong(a[1]) as Uva, long(a[2])),
  [__NR_open]: (k, a) => do_sys_open(k, ulong(a[0]) as Uva, int(a[1])),
  [__NR_close]: (k, a) => sys_close(k, uint(a[0])),
  [__NR_lseek]: (k, a) => ksys_lseek(k, uint(a[0]), long(a[1]), uint(a[2])),
  [__NR_mmap]: (k, a) => sys_mmap(k, ulong(a[0]), ulong(a[1]), ulong(a[2]), ulong(a[3]), int(a[4]), ulong(a[5])),
  [__NR_munmap]: (k, a) => sys_munmap(k, ulong(a[0]), ulong(a[1])),
  [__NR_ioctl]: (k, a) => sys_ioctl(k, uint(a[0]), uint(a[1]), ulong(a[2])),
  [__NR_sched_yield]: (k) => sys_sched_yield(k),
  [__NR_pause]: (k) => sys_pause(k),
  [__NR_getpid]: (k) => sys_getpid(k),
  [__NR_clone]: (k, a, code) => sys_clone(k, ulong(a[0]), ulong(a[1]), ulong(a[2]), ulong(a[3]), ulong(a[4]), code),
  [__NR_exit]: (k, a) => sys_exit(k, int(a[0])),
  [__NR_kill]: async (k, a) => kill_pid(k, int(a[0]), int(a[1])),
  [__NR_arch_prctl]: (k, a) => sys_arch_prctl(k, int(a[0]), ulong(a[1])),
  [__NR_gettid]: (k) => sys_gettid(k),
  [__NR_tkill]: async (k, a) => sys_tkill(k, int(a[0]), int(a[1])),
  [__NR_futex]: (k, a) => sys_futex(k, ulong(a[0]), int(a[1]), uint(a[2]), ulong(a[3]), ulong(a[4]), uint(a[5])),
  [__NR_getdents64]: (k, a) => sys_getdents64(k, uint(a[0]), ulong(a[1]) as Uva, uint(a[2])),
  [__NR_set_tid_address]: (k, a) => sys_set_tid_address(k, ulong(a[0])),
  [__NR_exit_group]: (k, a) => sys_exit_group(k, int(a[0])),
  [__NR_tgkill]: async (k, a) => sys_tgkill(k, int(a[0]), int(a[1]), int(a[2])),
};

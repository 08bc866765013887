// What differs between the C libraries of the two hosts: system-call numbers and
// return conventions, errno values, open/mmap flag bits, and how <sys/ioctl.h>
// encodes a command. A program is "compiled for" one of these.

import type { IoctlDef } from "../../include/uapi/asm-generic/ioctl.js";
import type { SyscallResult } from "../../machine/syscall.js";

export interface OsAbi {
  readonly name: "freebsd" | "linux";
  readonly SYS: {
    readonly exit: number; readonly read: number; readonly write: number; readonly open: number;
    readonly close: number; readonly ioctl: number; readonly mmap: number; readonly munmap: number;
    readonly getpid: number; readonly kill: number;
    // Threads (userspace/libc/pthread.ts), Linux: clone 56, futex 202, exit_group 231, gettid 186.
    readonly clone?: number; readonly futex?: number; readonly exit_group?: number; readonly gettid?: number;
    // FreeBSD only: thr_self 432 (the thread id, which LinuxKPI gives modules as current->pid)
    // and __sysctlbyname 570 (reads kvm's statistics, which the shim turns into sysctl OIDs).
    readonly thr_self?: number; readonly __sysctlbyname?: number;
    // FreeBSD libthr: thr_new 455, thr_exit 431, _umtx_op 454.
    readonly thr_new?: number; readonly thr_exit?: number; readonly _umtx_op?: number;
  };
  readonly O_RDONLY: number;
  readonly O_RDWR: number;
  readonly O_CLOEXEC: number;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MAP_SHARED: number;
  readonly MAP_PRIVATE: number;
  readonly MAP_ANON: number;
  readonly MAP_FAILED: bigint;
  readonly SIGKILL: number;
  readonly SIGTERM: number;
  readonly SIGALRM: number;
  /** errno number -> symbolic name. */
  readonly errno_names: Readonly<Record<number, string>>;
  /** <sys/ioctl.h>: the command number of a uapi ioctl definition. */
  ioctl_number(d: IoctlDef): number;
  /** Split a raw syscall result into a value or an errno (what the libc stub does). */
  decode(r: SyscallResult): { value: bigint; errno: number };
}

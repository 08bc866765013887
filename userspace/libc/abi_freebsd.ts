// FreeBSD libc on amd64: syscall numbers from sys/kern/syscalls.master, errors as
// the carry flag with a positive errno in RAX; ioctl numbers from sys/ioccom.h.

import { freebsd_ioctl } from "../include/sys/ioccom.js";
import type { OsAbi } from "./abi.js";

export const freebsd_abi: OsAbi = {
  name: "freebsd",
  SYS: { exit: 1, read: 3, write: 4, open: 5, close: 6, getpid: 20, kill: 37, ioctl: 54, munmap: 73, mmap: 477, thr_self: 432, __sysctlbyname: 570, thr_new: 455, thr_exit: 431, _umtx_op: 454 },
  O_RDONLY: 0,
  O_RDWR: 2,
  O_CLOEXEC: 0x00100000,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 0x0001,
  MAP_PRIVATE: 0x0002,
  MAP_ANON: 0x1000,
  MAP_FAILED: (1n << 64n) - 1n,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGALRM: 14,
  errno_names: {
    1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 9: "EBADF", 11: "EDEADLK",
    12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 23: "ENFILE",
    24: "EMFILE", 25: "ENOTTY", 28: "ENOSPC", 34: "ERANGE", 35: "EAGAIN", 45: "EOPNOTSUPP", 78: "ENOSYS",
  },
  ioctl_number: freebsd_ioctl,
  decode(r) {
    if (r.carry) return { value: -1n, errno: Number(r.rax) };
    return { value: r.rax, errno: 0 };
  },
};

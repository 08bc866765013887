// glibc on Linux x86-64: syscall numbers from arch/x86/entry/syscalls/syscall_64.tbl,
// errors as -errno in RAX (-4095..-1).

import { linux_ioctl } from "../../include/uapi/asm-generic/ioctl.js";
import type { OsAbi } from "./abi.js";

export const linux_abi: OsAbi = {
  name: "linux",
  SYS: { read: 0, write: 1, open: 2, close: 3, mmap: 9, munmap: 11, ioctl: 16, getpid: 39, exit: 60, kill: 62, clone: 56, futex: 202, exit_group: 231, gettid: 186 },
  O_RDONLY: 0,
  O_RDWR: 2,
  O_CLOEXEC: 0o2000000,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 0x01,
  MAP_PRIVATE: 0x02,
  MAP_ANON: 0x20,
  MAP_FAILED: (1n << 64n) - 1n,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGALRM: 14,
  errno_names: {
    1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 9: "EBADF", 11: "EAGAIN",
    12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 23: "ENFILE",
    24: "EMFILE", 25: "ENOTTY", 28: "ENOSPC", 34: "ERANGE", 35: "EDEADLK", 38: "ENOSYS", 95: "EOPNOTSUPP",
  },
  ioctl_number: linux_ioctl,
  decode(r) {
    const v = BigInt.asIntN(64, r.rax);
    if (v < 0n && v >= -4095n) return { value: -1n, errno: Number(-v) };
    return { value: r.rax, errno: 0 };
  },
};

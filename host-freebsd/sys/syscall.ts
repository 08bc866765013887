// sys/sys/syscall.h (amd64): FreeBSD system call numbers.

export const SYS_exit = 1;
export const SYS_read = 3;
export const SYS_write = 4;
export const SYS_open = 5;
export const SYS_close = 6;
export const SYS_getpid = 20;
export const SYS_kill = 37;
export const SYS_ioctl = 54;
export const SYS_munmap = 73;
export const SYS_kldload = 304;
export const SYS_mmap = 477;

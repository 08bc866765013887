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
export const SYS_sched_yield = 331;
export const SYS_thr_exit = 431;
export const SYS_thr_self = 432;
export const SYS_thr_kill = 433;
export const SYS_umtx_op = 454;
export const SYS_thr_new = 455;
export const SYS_thr_kill2 = 481;
export const SYS_mmap = 477;
export const SYS___sysctlbyname = 570;

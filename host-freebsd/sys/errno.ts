// sys/sys/errno.h: FreeBSD error numbers. System calls return them positive, with the
// carry flag set. Numbers agree with Linux below 35 except EAGAIN/EDEADLK (35/11 here).

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EDEADLK = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const EPIPE = 32;
export const EDOM = 33;
export const ERANGE = 34;
export const EAGAIN = 35;
export const EWOULDBLOCK = EAGAIN;
export const EOPNOTSUPP = 45;
export const ELOOP = 62;
export const ENAMETOOLONG = 63;
export const ENOTEMPTY = 66;
export const ENOLCK = 77;
export const ENOSYS = 78;
export const EFTYPE = 79;
export const EOVERFLOW = 84;
export const ENOATTR = 87;
export const ETIMEDOUT = 60;
export const EINTEGRITY = 97;
// Kernel-internal pseudo-errors (never returned to userspace as such).
/** Restart the system call (sys/errno.h: -1). */
export const ERESTART = -1;
/** Do not touch the return registers (sys/errno.h: -2). */
export const EJUSTRETURN = -2;

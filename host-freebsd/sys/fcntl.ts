// sys/sys/fcntl.h: open(2) flags and their in-kernel FREAD/FWRITE form.

export const O_RDONLY = 0x0000;
export const O_WRONLY = 0x0001;
export const O_RDWR = 0x0002;
export const O_ACCMODE = 0x0003;
export const O_NONBLOCK = 0x0004;
export const O_CLOEXEC = 0x00100000;
export const FREAD = 0x0001;
export const FWRITE = 0x0002;
/** FFLAGS(oflags): open flags to file flags. */
export const FFLAGS = (oflags: number) => (oflags & ~O_ACCMODE) | ((oflags + 1) & O_ACCMODE);

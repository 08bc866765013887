// include/uapi/asm-generic/ioctl.h: the Linux ioctl command encoding.
//   bits 0-7 nr, 8-15 type, 16-29 size (14 bits), 30-31 direction.
//   _IOC_WRITE (1): userspace writes, the kernel reads; _IOC_READ (2): the kernel writes.
// A uapi header describes each command by (dir, type, nr, size); a FreeBSD build of the
// same header applies sys/ioccom.h to the same four values instead.

export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_SIZEBITS = 14;
export const _IOC_DIRBITS = 2;
export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;
export const _IOC_NONE = 0;
export const _IOC_WRITE = 1;
export const _IOC_READ = 2;

/** One ioctl command as a header declares it, before any OS encodes it. */
export interface IoctlDef {
  readonly name: string;
  /** Combination of _IOC_WRITE / _IOC_READ, or _IOC_NONE for _IO. */
  readonly dir: number;
  readonly type: number;
  readonly nr: number;
  readonly size: number;
}

export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (size >= 1 << _IOC_SIZEBITS) throw new RangeError(`_IOC size ${size} does not fit ${_IOC_SIZEBITS} bits`);
  return ((dir << _IOC_DIRSHIFT) | (type << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT) | (size << _IOC_SIZESHIFT)) >>> 0;
}

export const _IOC_DIR = (cmd: number) => (cmd >>> _IOC_DIRSHIFT) & ((1 << _IOC_DIRBITS) - 1);
export const _IOC_TYPE = (cmd: number) => (cmd >>> _IOC_TYPESHIFT) & ((1 << _IOC_TYPEBITS) - 1);
export const _IOC_NR = (cmd: number) => (cmd >>> _IOC_NRSHIFT) & ((1 << _IOC_NRBITS) - 1);
export const _IOC_SIZE = (cmd: number) => (cmd >>> _IOC_SIZESHIFT) & ((1 << _IOC_SIZEBITS) - 1);

export const _IO = (name: string, type: number, nr: number): IoctlDef => ({ name, dir: _IOC_NONE, type, nr, size: 0 });
export const _IOR = (name: string, type: number, nr: number, size: number): IoctlDef => ({ name, dir: _IOC_READ, type, nr, size });
export const _IOW = (name: string, type: number, nr: number, size: number): IoctlDef => ({ name, dir: _IOC_WRITE, type, nr, size });
export const _IOWR = (name: string, type: number, nr: number, size: number): IoctlDef => ({
  name,
  dir: _IOC_READ | _IOC_WRITE,
  type,
  nr,
  size,
});

/** The Linux command number of a definition. */
export const linux_ioctl = (d: IoctlDef): number => _IOC(d.dir, d.type, d.nr, d.size);

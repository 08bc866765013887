// sys/compat/linuxkpi/common/src/linux_compat.c: Linux files on FreeBSD.
//
//   misc_register      -> make_dev_s with linuxcdevsw; the device's d_fdopen
//                         (linux_dev_fdopen) turns each open into a Linux struct file
//                         and installs linuxfileops on the FreeBSD file
//   anon_inode_getfd   -> falloc + finit(DTYPE_DEV, linux_file, linuxfileops)
//   linuxfileops       fo_ioctl  = linux_file_ioctl (command re-encoding, the fake
//                                  ioctl address, positive results in td_retval)
//                      fo_mmap   = linux_file_mmap (the driver's fops.mmap, then an
//                                  OBJT_MGTDEVICE pager whose fault calls vm_ops.fault),
//                                  or, with file_mmap "none" (2007), invfo_mmap: ENODEV
//                      fo_close  = linux_file_close (fops.release, module_put)
//   fget / fput        -> fget / fdrop of the FreeBSD file (its f_count is the Linux
//                         file's reference count)

import { curthread } from "../../host-freebsd/sys/pcpu.js";
import { EBUSY, ENOTTY, ENXIO } from "../../host-freebsd/sys/errno.js";
import { FREAD, FWRITE } from "../../host-freebsd/sys/fcntl.js";
import { DTYPE_DEV, type file as bsd_file, type fileops } from "../../host-freebsd/sys/file.js";
import { D_VERSION, type cdev, type cdevsw } from "../../host-freebsd/sys/conf.js";
import { MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from "../../host-freebsd/sys/mman.js";
import { IOCPARM_LEN, IOC_VOID } from "../../host-freebsd/sys/ioccom.js";
import { PAGE_SIZE } from "../../host-freebsd/sys/param.js";
import { falloc, fdrop, fget, fhold, finit, invfo_mmap } from "../../host-freebsd/kern/kern_descrip.js";
import { destroy_dev, make_dev_s } from "../../host-freebsd/kern/kern_conf.js";
import { vm_map_findspace, vm_map_insert, MAP_ENTRY_SHARED, type vmspace } from "../../host-freebsd/vm/vm_map.js";
import { cdev_pager_allocate } from "../../host-freebsd/vm/device_pager.js";
import { vm_object_deallocate, VM_PAGER_FAIL, VM_PAGER_OK, type cdev_pager_ops, type vm_object } from "../../host-freebsd/vm/vm_object.js";
import { vm_page, vm_page_wire } from "../../host-freebsd/vm/vm_page.js";
import { uva, type Uva } from "../../machine/addr.js";
import type { thread } from "../../host-freebsd/sys/proc.js";
import { SYS_ioctl } from "../../host-freebsd/sys/syscall.js";
import { VM_MAXUSER_ADDRESS } from "../../host-freebsd/amd64/vmparam.js";
import * as LE from "../linux/errno.js";
import { FMODE_READ, FMODE_WRITE, type file, type file_operations, type inode } from "../linux/fs_types.js";
import { MISC_DYNAMIC_MINOR, MISC_MAJOR, type miscdevice } from "../linux/miscdevice_types.js";
import { VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_READ, VM_SHARED, VM_WRITE, VM_EXEC, type vm_area_struct, type vm_fault, type vm_operations_struct } from "../linux/mm_types.js";
import { linux_inode, type linuxkpi_state } from "./linuxkpi_state.js";
import { bsd_to_linux_errno, linux_to_bsd_errno } from "./linux_errno.js";
import { linux_ioctl_cmd } from "./linux_ioctl.js";
import { linux_get_current } from "./linux_current.js";
import { LINUX_IOCTL_MIN_PTR } from "./linux_uaccess.js";
import { linux_module_put, linux_try_module_get } from "./linux_module.js";

/** struct linux_file: a Linux struct file backed by a FreeBSD file (_file). */
export class linux_file implements file {
  /** The FreeBSD file this Linux file lives in (LinuxKPI's f->_file). */
  _file: bsd_file | null = null;
  /** The misc device this file is an open of, for the exclusive-open preset. */
  f_misc: miscdevice | null = null;
  constructor(
    readonly f_op: file_operations,
    public private_data: unknown,
    readonly f_flags: number,
    readonly f_mode: number,
    readonly f_inode: inode,
  ) {}
}

/** A vm_area_struct for a mapping made through linux_file_mmap or linux_vm_mmap. */
export class linux_vma implements vm_area_struct {
  vm_ops: vm_operations_struct | null = null;
  vm_private_data: unknown = null;
  constructor(
    readonly vm_start: Uva,
    readonly vm_end: Uva,
    readonly vm_pgoff: number,
    public vm_flags: number,
    readonly vm_file: linux_file,
  ) {}
}

/** Linux O_ACCMODE value of FreeBSD FREAD/FWRITE file flags. */
const linux_oflags = (fflags: number) => (fflags & FWRITE ? (fflags & FREAD ? 2 : 1) : 0);
const linux_fmode = (fflags: number) => (fflags & FREAD ? FMODE_READ : 0) | (fflags & FWRITE ? FMODE_WRITE : 0);
/** O_ACCMODE of asm-generic/fcntl.h. */
const O_ACCMODE_LINUX = 0o3;
/** MKDEV with Linux's 20 minor bits. */
const MKDEV = (ma: number, mi: number) => ma * 2 ** 20 + mi;

// --- linuxfileops ---------------------------------------------------------------------

export function linux_fileops(s: linuxkpi_state): fileops {
  return {
    name: "linuxfileops",
    // DIVERGENCE: the API's file_operations have no read/write; FreeBSD read(2)/write(2)
    // on a Linux file get ENXIO (LinuxKPI's answer without f_op->read), Linux's EINVAL.
    fo_read: async () => ENXIO,
    fo_write: async () => ENXIO,
    fo_ioctl: (fp, com, data, td) => linux_file_ioctl(s, fp, com, data, td),
    fo_close: async (fp) => {
      const filp = fp.f_data as linux_file;
      if (filp.f_op.release) await filp.f_op.release(filp.f_inode, filp);
      if (filp.f_misc !== null) s.misc_open_files.delete(filp.f_misc);
      linux_module_put(s, filp.f_op.owner);
      return 0;
    },
    // file_mmap "none" (2007 port): FreeBSD 7's struct fileops had no mmap hook, and
    // mmap(2) refused every descriptor that was not a vnode.
    // DIVERGENCE: the mmap(2) of that era (FreeBSD 6's vm_mmap.c, and presumably 7.0's
    // until DTYPE_SHM arrived in January 2008) answered EINVAL (`fp->f_type !=
    // DTYPE_VNODE`); the model's host is today's FreeBSD, where a file type without
    // fo_mmap answers ENODEV (invfo_mmap), as FreeBSD 8-10's vm_mmap.c did too.
    fo_mmap:
      s.config.file_mmap === "none"
        ? invfo_mmap
        : (fp, vs, size, prot, maxprot, flags, foff) => linux_file_mmap(s, fp, vs, size, prot, maxprot, flags, foff),
  };
}

/**
 * linux_file_ioctl: the FreeBSD command becomes the Linux one; an argument buffer is
 * passed as a user address that copy_{from,to}_user redirect to sys_ioctl's kernel copy
 * (the fake address LINUX_IOCTL_MIN_PTR, or with the registered_area preset the
 * caller's own pointer, taken from td_sa); a command without a buffer passes its
 * argument word by value. A
 * non-negative Linux result is the system call's value (td_retval); a negative one
 * is translated to a FreeBSD errno.
 * DIVERGENCE: sys_ioctl copies an IOC_OUT argument back only when the ioctl returned
 * 0 or more, so a Linux ioctl that writes results and then fails (KVM_GET_MSR_INDEX_LIST
 * writing nmsrs before -E2BIG) loses them; the 2007 port changed that ioctl for this.
 */
export async function linux_file_ioctl(s: linuxkpi_state, fp: bsd_file, com: number, data: Uint8Array, td: thread): Promise<number> {
  const filp = fp.f_data as linux_file;
  if (!filp.f_op.unlocked_ioctl) return ENOTTY;
  const cmd = linux_ioctl_cmd(com);
  const size = IOCPARM_LEN(com);
  const task = linux_get_current();
  let arg: number;
  const saved = { data: task.bsd_ioctl_data, len: task.bsd_ioctl_len, uaddr: task.bsd_ioctl_uaddr };
  if ((com & IOC_VOID) !== 0 || size === 0) {
    const v = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
    arg = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number(BigInt.asIntN(64, v));
  } else {
    // registered_area: the caller's own pointer, from the system call's arguments.
    const user = s.config.ioctl_user_copy === "registered_area" && td.td_sa.code === SYS_ioctl ? Number(BigInt.asUintN(64, td.td_sa.args[2] ?? 0n)) : -1;
    arg = user > 0 && user < VM_MAXUSER_ADDRESS ? user : LINUX_IOCTL_MIN_PTR;
    task.bsd_ioctl_data = data;
    task.bsd_ioctl_len = size;
    task.bsd_ioctl_uaddr = arg;
  }
  let ret: number;
  try {
    ret = await filp.f_op.unlocked_ioctl(filp, cmd, arg);
  } finally {
    task.bsd_ioctl_data = saved.data;
    task.bsd_ioctl_len = saved.len;
    task.bsd_ioctl_uaddr = saved.uaddr;
  }
  if (ret >= 0) {
    td.td_retval[0] = BigInt(ret);
    return 0;
  }
  // DIVERGENCE: -ERESTARTSYS becomes ERESTART; the model's processes have no signal
  // handlers with SA_RESTART, so the system call returns EINTR instead of restarting.
  return linux_to_bsd_errno(-ret);
}

/** The driver's vm_ops->fault for page `pgoff` of `vma` at user address `va`: the page,
 *  wired (the reference Linux's handler takes with get_page(), which the object owns),
 *  or the VM_FAULT_* code that says why there is none. */
export function linux_vma_fault(vma: linux_vma, pgoff: number, va: number, write: boolean): vm_page | number {
  if (!vma.vm_ops?.fault) return VM_FAULT_SIGBUS;
  const vmf: vm_fault = { vma, pgoff, address: uva(va), write, page: null };
  const ret = vma.vm_ops.fault(vmf);
  if ((ret & (VM_FAULT_SIGBUS | VM_FAULT_OOM)) !== 0 || !(vmf.page instanceof vm_page)) return ret | VM_FAULT_SIGBUS;
  vm_page_wire(vmf.page);
  return vmf.page;
}

/** The OBJT_MGTDEVICE pager of Linux mappings: the vma is the handle; a fault asks the
 *  driver's vm_ops->fault for the page. */
function linux_cdev_pager_ops(): cdev_pager_ops {
  return {
    cdev_pg_ctor: () => 0,
    cdev_pg_fault(object, offset, prot) {
      const vma = object.handle as linux_vma;
      const page = linux_vma_fault(vma, offset / PAGE_SIZE, vma.vm_start + offset - vma.vm_pgoff * PAGE_SIZE, (prot & PROT_WRITE) !== 0);
      return typeof page === "number" ? { rv: VM_PAGER_FAIL, page: null } : { rv: VM_PAGER_OK, page };
    },
    cdev_pg_dtor: linux_vma_close,
  };
}

/** The pager's destructor: the mapping is gone; vm_ops->close, and drop the file the
 *  mapping held (vma->vm_file). */
export async function linux_vma_close(handle: unknown): Promise<void> {
  const vma = handle as linux_vma;
  vma.vm_ops?.close?.(vma);
  await fdrop(vma.vm_file._file!);
}

/**
 * What mmap(2) of a Linux file and vm_mmap share: find `size` bytes of free address
 * space, let the driver's fops.mmap set up the vma (which holds the file), and make its
 * OBJT_MGTDEVICE object with the given pager. The range is checked again afterwards, as
 * the driver's mmap may have slept; from there to vm_map_insert nothing may sleep.
 * Errors are negative Linux errnos.
 */
export async function linux_mmap_object(
  s: linuxkpi_state, filp: linux_file, vs: vmspace, size: number, prot: number, vm_flags: number, foff: number, ops: cdev_pager_ops,
): Promise<{ r: number; addr: number; obj: vm_object | null; vma: linux_vma | null }> {
  const fail = (r: number) => ({ r, addr: 0, obj: null, vma: null });
  const fp = filp._file!;
  if (!filp.f_op.mmap) return fail(-LE.ENODEV);
  const addr = vm_map_findspace(vs.vm_map, 0, size);
  if (addr < 0) return fail(-LE.ENOMEM);
  const vma = new linux_vma(uva(addr), uva(addr + size), foff / PAGE_SIZE, vm_flags, filp);
  fhold(fp);
  const r = await filp.f_op.mmap(filp, vma);
  if (r < 0) {
    await fdrop(fp);
    return fail(r);
  }
  const obj = cdev_pager_allocate(vma, "OBJT_MGTDEVICE", ops, size, prot, foff);
  if (obj === null) {
    await fdrop(fp);
    return fail(-LE.EINVAL);
  }
  if (vm_map_findspace(vs.vm_map, addr, size) !== addr) {
    // Another thread took the range while the driver ran.
    await vm_object_deallocate(s.k, obj);
    return fail(-LE.ENOMEM);
  }
  return { r: 0, addr, obj, vma };
}

/** linux_file_mmap: the common setup, with a pager whose faults go to vma->vm_ops->fault. */
async function linux_file_mmap(
  s: linuxkpi_state, fp: bsd_file, vs: vmspace, size: number, prot: number, maxprot: number, flags: number, foff: number,
): Promise<{ error: number; addr: number }> {
  const filp = fp.f_data as linux_file;
  // DIVERGENCE: MAP_PRIVATE mappings of a Linux file share the driver's pages (no
  // copy-on-write); KVM maps its files MAP_SHARED.
  const vm_flags = (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0) | (flags & MAP_SHARED ? VM_SHARED : 0);
  const m = await linux_mmap_object(s, filp, vs, size, prot, vm_flags, foff, linux_cdev_pager_ops());
  if (m.r < 0) return { error: linux_to_bsd_errno(-m.r), addr: 0 };
  vm_map_insert(vs.vm_map, m.obj!, foff, m.addr, m.addr + size, prot, maxprot, flags & MAP_SHARED ? MAP_ENTRY_SHARED : 0);
  return { error: 0, addr: m.addr };
}

// --- misc devices -----------------------------------------------------------------------

interface misc_cdev {
  readonly misc: miscdevice;
  readonly inode: linux_inode;
}

/**
 * linux_dev_fdopen: an open of a Linux character device becomes a Linux open: a new
 * struct file on the device's inode, fops.open, and linuxfileops on the FreeBSD file.
 * Any number of opens at a time, each its own Linux file, as LinuxKPI and Linux do;
 * DIVERGENCE (misc_open "exclusive", the 2007 port): one open at a time, EBUSY after.
 */
async function linux_dev_fdopen(s: linuxkpi_state, dev: cdev, fflags: number, fp: bsd_file): Promise<number> {
  const { misc, inode } = dev.si_drv1 as misc_cdev;
  const fops = misc.fops;
  // misc_open "exclusive" (2007 port): "We allow miscdevices to be opened at any given
  // time by at most one user, since this simplifies memory handling".
  if (s.config.misc_open === "exclusive" && s.misc_open_files.has(misc)) return EBUSY;
  if (!linux_try_module_get(s, fops.owner)) return ENXIO;
  // misc_open: the file's private_data is the miscdevice until fops.open changes it.
  const filp = new linux_file(fops, misc, linux_oflags(fflags), linux_fmode(fflags), inode);
  if (fops.open) {
    const r = await fops.open(inode, filp);
    if (r < 0) {
      linux_module_put(s, fops.owner);
      return linux_to_bsd_errno(-r);
    }
  }
  filp._file = fp;
  filp.f_misc = misc;
  if (s.config.misc_open === "exclusive") s.misc_open_files.add(misc);
  finit(fp, fflags, DTYPE_DEV, filp, s_fileops(s));
  return 0;
}

/** linuxcdevsw: the cdevsw of every Linux character device. */
function linuxcdevsw(s: linuxkpi_state): cdevsw {
  return {
    d_version: D_VERSION,
    d_name: "linuxcdev",
    d_fdopen: (dev, fflags, _td, fp) => linux_dev_fdopen(s, dev, fflags, fp),
  };
}

/** The linuxfileops of this load of linuxkpi. */
export function s_fileops(s: linuxkpi_state): fileops {
  if (s.linuxfileops === null) s.linuxfileops = linux_fileops(s);
  return s.linuxfileops;
}

export async function linux_misc_register(s: linuxkpi_state, misc: miscdevice): Promise<number> {
  let minor = misc.minor;
  if (minor === MISC_DYNAMIC_MINOR) {
    minor = -1;
    for (let m = 63; m >= 0; m--)
      if (!s.misc_minors.has(m)) {
        minor = m;
        break;
      }
    if (minor < 0) return -LE.EBUSY;
  } else if (s.misc_minors.has(minor)) return -LE.EBUSY;
  const inode = new linux_inode(s.next_ino++, MKDEV(MISC_MAJOR, minor));
  const r = make_dev_s({ mda_devsw: linuxcdevsw(s), mda_mode: misc.mode ?? 0o600, mda_si_drv1: { misc, inode } satisfies misc_cdev }, misc.name);
  if (r.error !== 0) return -bsd_to_linux_errno(r.error);
  s.misc_minors.add(minor);
  misc.minor = minor;
  s.misc.set(misc, { dev: r.dev!, inode });
  return 0;
}

export async function linux_misc_deregister(s: linuxkpi_state, misc: miscdevice): Promise<void> {
  const e = s.misc.get(misc);
  if (e === undefined) return;
  s.misc.delete(misc);
  await destroy_dev(e.dev);
  s.misc_minors.delete(misc.minor);
}

// --- anonymous inodes and fd lookups ---------------------------------------------------

/** anon_inode_getfd. DIVERGENCE: O_CLOEXEC is accepted and ignored (the model has no
 *  exec). */
export async function linux_anon_inode_getfd(s: linuxkpi_state, _name: string, fops: file_operations, priv: unknown, flags: number): Promise<number> {
  const td = curthread();
  if (!linux_try_module_get(s, fops.owner)) return -LE.ENOENT;
  const acc = flags & O_ACCMODE_LINUX;
  const fflags = acc === 2 ? FREAD | FWRITE : acc === 1 ? FWRITE : FREAD;
  const filp = new linux_file(fops, priv, flags, linux_fmode(fflags), s.anon_inode);
  const r = falloc(td);
  if (r.error !== 0) {
    linux_module_put(s, fops.owner);
    return -bsd_to_linux_errno(r.error);
  }
  const fp = r.fp!;
  filp._file = fp;
  finit(fp, fflags, DTYPE_DEV, filp, s_fileops(s));
  await fdrop(fp, td);
  return r.fd;
}

export function linux_fget(s: linuxkpi_state, fd: number): file | null {
  const r = fget(curthread(), fd);
  if (r.error !== 0) return null;
  const fp = r.fp!;
  if (fp.f_ops !== s_fileops(s)) {
    // Not a Linux file: drop the reference (the descriptor table still holds one).
    fp.f_count--;
    return null;
  }
  return fp.f_data as linux_file;
}

export async function linux_fput(f: file): Promise<void> {
  const lf = f as linux_file;
  if (lf._file === null) return;
  await fdrop(lf._file);
}

export const linux_file_inode = (f: file): inode => (f as linux_file).f_inode;

// sys/vm/vm_mmap.c: mmap(2) and munmap(2), and the helpers file types use to map
// themselves (vm_mmap_object, vm_mmap_cdev).

import { EINVAL, ENOMEM, ENODEV, EACCES, EBADF } from "../sys/errno.js";
import { PAGE_SIZE } from "../sys/param.js";
import { curkernel } from "../sys/pcpu.js";
import { FREAD, FWRITE } from "../sys/fcntl.js";
import { MAP_ANON, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from "../sys/mman.js";
import type { thread } from "../sys/proc.js";
import type { cdev } from "../sys/conf.js";
import type { fo_mmap_result } from "../sys/file.js";
import { fdrop, fget } from "../kern/kern_descrip.js";
import { VM_MAXUSER_ADDRESS } from "../amd64/vmparam.js";
import { MAP_ENTRY_SHARED, vm_map_delete, vm_map_findspace, vm_map_insert, type vmspace } from "./vm_map.js";
import { vm_object_allocate, vm_object_deallocate, type vm_object } from "./vm_object.js";
import { cdev_pager_allocate, dev_pager_ops } from "./device_pager.js";

const KNOWN_FLAGS = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANON;

/** vm_mmap_object: map `object` at a free address; the map takes the reference. */
export function vm_mmap_object(vs: vmspace, size: number, prot: number, maxprot: number, flags: number, object: vm_object, foff: number): fo_mmap_result {
  const addr = vm_map_findspace(vs.vm_map, 0, size);
  if (addr < 0) return { error: ENOMEM, addr: 0 };
  vm_map_insert(vs.vm_map, object, foff, addr, addr + size, prot, maxprot, flags & MAP_SHARED ? MAP_ENTRY_SHARED : 0);
  return { error: 0, addr };
}

/** vm_mmap_cdev: map a character device: d_mmap_single's object, or a device pager
 *  over d_mmap. Devices provide no private mappings. */
export async function vm_mmap_cdev(_td: thread, vs: vmspace, size: number, prot: number, maxprot: number, flags: number, dev: cdev, foff: number): Promise<fo_mmap_result> {
  if (flags & MAP_PRIVATE) return { error: EINVAL, addr: 0 };
  const dsw = dev.si_devsw;
  let obj: vm_object | null = null;
  let off = foff;
  if (dsw.d_mmap_single) {
    const r = await dsw.d_mmap_single(dev, foff, size, prot);
    if (r.error !== 0 && r.error !== ENODEV) return { error: r.error, addr: 0 };
    if (r.error === 0) {
      obj = r.object;
      off = r.offset;
    }
  }
  if (obj === null) {
    if (!dsw.d_mmap) return { error: ENODEV, addr: 0 };
    obj = cdev_pager_allocate(dev, "OBJT_DEVICE", dev_pager_ops(curkernel()), size, prot, foff);
    if (obj === null) return { error: EINVAL, addr: 0 };
  }
  const r = vm_mmap_object(vs, size, prot, maxprot, flags, obj, off);
  if (r.error !== 0) await vm_object_deallocate(curkernel(), obj);
  return r;
}

/** sys_mmap: mmap(2). */
export async function kern_mmap(td: thread, addr0: number, len: number, prot: number, flags: number, fd: number, pos: number): Promise<number> {
  const p = td.td_proc;
  if ((flags & ~KNOWN_FLAGS) !== 0) return EINVAL;
  if ((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return EINVAL;
  if ((flags & (MAP_SHARED | MAP_PRIVATE)) === (MAP_SHARED | MAP_PRIVATE)) return EINVAL;
  if ((flags & (MAP_SHARED | MAP_PRIVATE)) === 0 && (flags & MAP_ANON) === 0) return EINVAL;
  if (len <= 0 || pos < 0 || pos % PAGE_SIZE !== 0) return EINVAL;
  if (flags & MAP_FIXED) return EINVAL; // fixed-address mappings are not modelled
  void addr0;
  const size = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (size > VM_MAXUSER_ADDRESS) return ENOMEM;
  const vs = p.p_vmspace;
  let r: fo_mmap_result;
  if (flags & MAP_ANON) {
    if (fd !== -1 || pos !== 0) return EINVAL;
    const obj = vm_object_allocate(flags & MAP_SHARED ? "OBJT_SWAP" : "OBJT_DEFAULT", size / PAGE_SIZE);
    r = vm_mmap_object(vs, size, prot, PROT_READ | PROT_WRITE | PROT_EXEC, flags, obj, 0);
    if (r.error !== 0) await vm_object_deallocate(curkernel(), obj);
  } else {
    const g = fget(td, fd);
    if (g.error !== 0) return EBADF;
    const fp = g.fp!;
    try {
      let maxprot = PROT_EXEC;
      if (fp.f_flag & FREAD) maxprot |= PROT_READ;
      else if (prot & PROT_READ) return EACCES;
      if (fp.f_flag & FWRITE) maxprot |= PROT_WRITE;
      else if (flags & MAP_SHARED && prot & PROT_WRITE) return EACCES;
      if (flags & MAP_PRIVATE) maxprot |= PROT_WRITE;
      r = await fp.f_ops.fo_mmap(fp, vs, size, prot, maxprot, flags, pos, td);
    } finally {
      await fdrop(fp, td);
    }
  }
  if (r.error !== 0) return r.error;
  td.td_retval[0] = BigInt(r.addr);
  return 0;
}

/** kern_munmap: munmap(2). */
export async function kern_munmap(td: thread, addr: number, len: number): Promise<number> {
  if (addr % PAGE_SIZE !== 0 || len <= 0) return EINVAL;
  const size = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (addr < 0 || addr + size > VM_MAXUSER_ADDRESS) return EINVAL;
  await vm_map_delete(curkernel(), td.td_proc.p_vmspace, addr, addr + size);
  return 0;
}

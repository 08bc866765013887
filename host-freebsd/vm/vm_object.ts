// sys/vm/vm_object.h, vm_object.c, reduced: the backing store of mappings.
//   OBJT_DEFAULT / OBJT_SWAP  anonymous memory: zero-filled pages created on first fault
//                             (no swap device in the model: OBJT_SWAP behaves as DEFAULT);
//   OBJT_DEVICE / OBJT_MGTDEVICE  pages supplied by a driver's pager (cdev_pg_ops).
// An object owns one reference on each resident page; deallocating the last
// reference frees them.

import type { kernel } from "../sys/kernel.js";
import { panic } from "../kern/kern_shutdown.js";
import { vm_page_unwire_free, type vm_page } from "./vm_page.js";

export type objtype_t = "OBJT_DEFAULT" | "OBJT_SWAP" | "OBJT_DEVICE" | "OBJT_MGTDEVICE" | "OBJT_PHYS";

/** cdev_pager_ops (vm/vm_pager.h): a device pager's callbacks. */
export interface cdev_pager_ops {
  /** cdev_pg_fault: the page at offset `offset` (bytes) of the object, with a
   *  reference the object now owns, or an error (VM_PAGER_*). Synchronous: the fault
   *  path does not sleep. */
  cdev_pg_fault(object: vm_object, offset: number, prot: number): { rv: number; page: vm_page | null };
  cdev_pg_ctor(handle: unknown, size: number, prot: number, foff: number): number;
  /** cdev_pg_dtor: the object is gone. May sleep (a driver may drop a file reference
   *  whose last close runs driver code), so deallocation is asynchronous. */
  cdev_pg_dtor(handle: unknown): void | Promise<void>;
}

export const VM_PAGER_OK = 0;
export const VM_PAGER_BAD = 1;
export const VM_PAGER_FAIL = 2;
export const VM_PAGER_ERROR = 4;

export class vm_object {
  ref_count = 1;
  /** Resident pages by page index. */
  readonly memq = new Map<number, vm_page>();
  /** Device objects: the pager's handle and operations. */
  handle: unknown = null;
  pg_ops: cdev_pager_ops | null = null;
  constructor(
    readonly type: objtype_t,
    /** Size in pages. */
    readonly size: number,
  ) {}
}

export function vm_object_allocate(type: objtype_t, size: number): vm_object {
  return new vm_object(type, size);
}

export function vm_object_reference(obj: vm_object): void {
  obj.ref_count++;
}

/** vm_object_deallocate: drop a reference; the last one frees the resident pages and
 *  tells a device pager (cdev_pg_dtor). */
export async function vm_object_deallocate(k: kernel, obj: vm_object): Promise<void> {
  if (obj.ref_count <= 0) panic("vm_object_deallocate: object has no references");
  if (--obj.ref_count > 0) return;
  for (const m of obj.memq.values()) {
    if (m.object === obj) m.object = null;
    vm_page_unwire_free(k, m);
  }
  obj.memq.clear();
  if (obj.pg_ops !== null) await obj.pg_ops.cdev_pg_dtor(obj.handle);
}

export function vm_page_lookup(obj: vm_object, pindex: number): vm_page | null {
  return obj.memq.get(pindex) ?? null;
}

/** vm_page_insert: the object takes ownership of one reference on m. */
export function vm_page_insert(m: vm_page, obj: vm_object, pindex: number): void {
  if (obj.memq.has(pindex)) panic(`vm_page_insert: index ${pindex} already resident`);
  // Device pages stay the driver's (FreeBSD would use a fictitious page for them).
  if (obj.pg_ops === null) {
    m.object = obj;
    m.pindex = pindex;
  }
  obj.memq.set(pindex, m);
}

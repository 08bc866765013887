// sys/vm/device_pager.c: objects whose pages a device supplies.
//   cdev_pager_allocate: an OBJT_DEVICE/OBJT_MGTDEVICE object over a driver's
//     cdev_pager_ops (ctor now, fault at fault time, dtor when the object dies);
//   dev_pager: the classic d_mmap pager, asking the driver for the physical address of
//     each page offset.
// A page handed to the object carries one reference that the object owns.

import { panic } from "../kern/kern_shutdown.js";
import type { kernel } from "../sys/kernel.js";
import type { cdev } from "../sys/conf.js";
import { PHYS_TO_VM_PAGE, vm_page_wire } from "./vm_page.js";
import { vm_object_allocate, VM_PAGER_FAIL, VM_PAGER_OK, type cdev_pager_ops, type objtype_t, type vm_object } from "./vm_object.js";

export function cdev_pager_allocate(handle: unknown, type: objtype_t, ops: cdev_pager_ops, size: number, prot: number, foff: number): vm_object | null {
  if (type !== "OBJT_DEVICE" && type !== "OBJT_MGTDEVICE") panic(`cdev_pager_allocate: type ${type}`);
  if (ops.cdev_pg_ctor(handle, size, prot, foff) !== 0) return null;
  const obj = vm_object_allocate(type, Math.ceil((foff + size) / 4096));
  obj.handle = handle;
  obj.pg_ops = ops;
  return obj;
}

/** The d_mmap pager: a device object for drivers that only have d_mmap. */
export function dev_pager_ops(k: kernel): cdev_pager_ops {
  return {
    cdev_pg_ctor: () => 0,
    cdev_pg_dtor: () => {},
    cdev_pg_fault(object, offset, prot) {
      const dev = object.handle as cdev;
      const r = dev.si_devsw.d_mmap!(dev, offset, prot);
      if (r.error !== 0) return { rv: VM_PAGER_FAIL, page: null };
      const m = PHYS_TO_VM_PAGE(k, r.paddr);
      if (m === null) return { rv: VM_PAGER_FAIL, page: null };
      vm_page_wire(m);
      return { rv: VM_PAGER_OK, page: m };
    },
  };
}

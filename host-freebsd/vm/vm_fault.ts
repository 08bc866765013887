// sys/vm/vm_fault.c, reduced: resolve a fault on a user address by finding the map
// entry, getting the page from its object (zero-fill for anonymous memory, the pager
// for device memory) and entering it in the pmap. Synchronous: allocation here never
// sleeps; a shortage fails the fault (KERN_RESOURCE_SHORTAGE) where FreeBSD would
// vm_wait and retry.

import type { kernel } from "../sys/kernel.js";
import { PAGE_SIZE } from "../sys/param.js";
import { PROT_WRITE, PROT_READ } from "../sys/mman.js";
import { KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_RESOURCE_SHORTAGE, KERN_SUCCESS, pmap_enter } from "../amd64/pmap.js";
import { vm_map_lookup_entry, type vmspace } from "./vm_map.js";
import { vm_page_insert, vm_page_lookup, VM_PAGER_OK } from "./vm_object.js";
import { VM_ALLOC_WIRED, VM_ALLOC_ZERO, vm_page_alloc_noobj_domain, type vm_page } from "./vm_page.js";

export const VM_PROT_READ = PROT_READ;
export const VM_PROT_WRITE = PROT_WRITE;

/** vm_fault: KERN_SUCCESS, or why the fault cannot be resolved. On success the page
 *  is returned too (for vm_fault_quick_hold_pages). */
export function vm_fault(k: kernel, vs: vmspace, va: number, fault_type: number): { rv: number; m: vm_page | null } {
  const e = vm_map_lookup_entry(vs.vm_map, va);
  if (e === null) return { rv: KERN_INVALID_ADDRESS, m: null };
  if ((fault_type & e.protection) !== fault_type) return { rv: KERN_PROTECTION_FAILURE, m: null };
  const obj = e.object;
  if (obj === null) return { rv: KERN_INVALID_ADDRESS, m: null };
  const page_va = va - (va % PAGE_SIZE);
  const offset = page_va - e.start + e.offset;
  const pindex = offset / PAGE_SIZE;
  let m = vm_page_lookup(obj, pindex);
  if (m === null) {
    if (obj.pg_ops !== null) {
      const r = obj.pg_ops.cdev_pg_fault(obj, offset, fault_type);
      if (r.rv !== VM_PAGER_OK || r.page === null) return { rv: KERN_INVALID_ADDRESS, m: null };
      m = r.page;
    } else {
      if (pindex >= obj.size) return { rv: KERN_INVALID_ADDRESS, m: null };
      m = vm_page_alloc_noobj_domain(k, 0, VM_ALLOC_WIRED | VM_ALLOC_ZERO);
      if (m === null) return { rv: KERN_RESOURCE_SHORTAGE, m: null };
    }
    vm_page_insert(m, obj, pindex);
  }
  const rv = pmap_enter(vs.vm_pmap, page_va, m, e.protection);
  return { rv, m: rv === KERN_SUCCESS ? m : null };
}

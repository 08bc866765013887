// include/linux/mm_types.h: struct page, struct vm_area_struct, struct vm_fault.
// A page is opaque to modules: they only pass it back to the kernel (page_address,
// page_to_pfn, __free_pages). On FreeBSD the shim's struct page is a vm_page, as in
// LinuxKPI.

import type { Uva } from "../../machine/addr.js";
import type { file } from "./fs_types.js";

export type page = object;

export type vm_fault_t = number;
export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_NOPAGE = 0x000100;

export interface vm_fault {
  readonly vma: vm_area_struct;
  /** Offset of the faulting page in the mapping's file, in pages. */
  readonly pgoff: number;
  readonly address: Uva;
  readonly write: boolean;
  /** Set by the fault handler to the page that backs the address (with a reference). */
  page: page | null;
}

export interface vm_operations_struct {
  /** Resolve a fault in the mapping. Synchronous in this model: the page-fault path of
   *  both kernels runs without sleeping, and KVM's handlers only look a page up. */
  fault?(vmf: vm_fault): vm_fault_t;
  close?(vma: vm_area_struct): void;
}

// vm_flags
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_IO = 0x4000;
export const VM_DONTEXPAND = 0x40000;

export interface vm_area_struct {
  readonly vm_start: Uva;
  readonly vm_end: Uva;
  /** Offset in the file, in pages (mmap's offset >> PAGE_SHIFT). */
  readonly vm_pgoff: number;
  vm_flags: number;
  readonly vm_file: file;
  vm_ops: vm_operations_struct | null;
  vm_private_data: unknown;
}

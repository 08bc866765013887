// sys/vm/vm_page.h, vm_page.c: struct vm_page, one per physical frame in
// vm_page_array, and the page allocation entry points that do not belong to an object.
//
// ref_count counts wirings and holds (FreeBSD 13+ folds wire_count into ref_count);
// a page goes back to vm_phys only when it drops to zero (vm_page_unwire/vm_page_free).

import type { Hpa, Pfn } from "../../machine/addr.js";
import { PAGE_SIZE, PAGE_SHIFT } from "../sys/param.js";
import { curkernel } from "../sys/pcpu.js";
import type { kernel } from "../sys/kernel.js";
import type { vm_object } from "./vm_object.js";
import { panic } from "../kern/kern_shutdown.js";
import { vm_phys_alloc_contig, vm_phys_alloc_pages, vm_phys_free_pages, VM_NFREEORDER, VM_NFREEPOOL, vm_wait } from "./vm_phys.js";
import { witness_warn_sleep } from "../kern/subr_witness.js";

// flags
export const PG_FICTITIOUS = 0x0004;
export const PG_ZERO = 0x0008;
// oflags
export const VPO_UNMANAGED = 0x04;

export class vm_page {
  /** Wirings plus holds; 0 while free. */
  ref_count = 0;
  flags = 0;
  oflags = 0;
  /** Buddy order when this page heads a free block, else VM_NFREEORDER. */
  order = VM_NFREEORDER;
  /** VM_FREEPOOL_DEFAULT while the frame is free in vm_phys, VM_NFREEPOOL while allocated. */
  pool = 0;
  /** Owning object and index in it, for object pages. */
  object: vm_object | null = null;
  pindex = 0;
  /** Valid bits (all-or-nothing in the model). */
  valid = 0;
  constructor(readonly phys_addr: Hpa) {}
  get wire_count(): number {
    return this.ref_count;
  }
}

export const VM_PAGE_TO_PHYS = (m: vm_page): Hpa => m.phys_addr;
export const VM_PAGE_TO_PFN = (m: vm_page): Pfn => (m.phys_addr / PAGE_SIZE) as Pfn;

/** PHYS_TO_VM_PAGE: the vm_page of a physical address (null outside RAM). */
export function PHYS_TO_VM_PAGE(k: kernel, pa: Hpa | number): vm_page | null {
  return k.vm_page_array[Math.floor(pa / PAGE_SIZE)] ?? null;
}

// vm_page_alloc request flags (vm/vm_page.h).
export const VM_ALLOC_NORMAL = 0x0000;
export const VM_ALLOC_INTERRUPT = 0x0001;
export const VM_ALLOC_SYSTEM = 0x0002;
export const VM_ALLOC_WIRED = 0x0020;
export const VM_ALLOC_ZERO = 0x0040;
export const VM_ALLOC_NOBUSY = 0x0200;
export const VM_ALLOC_NOWAIT = 0x0000;
export const VM_ALLOC_WAITOK = 0x0008;
export const VM_ALLOC_WAITFAIL = 0x0010;
const KNOWN = VM_ALLOC_INTERRUPT | VM_ALLOC_SYSTEM | VM_ALLOC_WIRED | VM_ALLOC_ZERO | VM_ALLOC_NOBUSY | VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL;

function check_req(req: number, what: string): void {
  if ((req & ~KNOWN) !== 0) panic(`${what}: unknown request flags 0x${(req & ~KNOWN).toString(16)}`);
}

function init_page(k: kernel, m: vm_page, req: number): void {
  if (m.ref_count !== 0) panic(`vm_page_alloc: page 0x${m.phys_addr.toString(16)} has ref_count ${m.ref_count}`);
  m.flags = 0;
  m.oflags = VPO_UNMANAGED;
  m.object = null;
  m.pindex = 0;
  m.valid = 0;
  if (req & VM_ALLOC_WIRED) m.ref_count = 1;
  if (req & VM_ALLOC_ZERO) {
    k.machine.ram.fill(m.phys_addr, PAGE_SIZE, 0);
    m.flags |= PG_ZERO;
  }
}

/**
 * vm_page_alloc_noobj_domain: one page that belongs to no object, without sleeping
 * (the synchronous core; VM_ALLOC_WAITOK is the async vm_page_alloc_noobj's job).
 */
export function vm_page_alloc_noobj_domain(k: kernel, _domain: number, req: number): vm_page | null {
  check_req(req, "vm_page_alloc_noobj");
  if (req & (VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL)) panic("vm_page_alloc_noobj_domain: may not sleep (VM_ALLOC_WAITOK): use vm_page_alloc_noobj");
  const m = vm_phys_alloc_pages(k, 0);
  if (m === null) return null;
  init_page(k, m, req);
  return m;
}

/** vm_page_alloc_noobj(9): as above; with VM_ALLOC_WAITOK sleeps until a page is free. */
export async function vm_page_alloc_noobj(req: number): Promise<vm_page | null> {
  const k = curkernel();
  const wait = (req & VM_ALLOC_WAITOK) !== 0;
  if (wait) witness_warn_sleep("vm_page_alloc_noobj(VM_ALLOC_WAITOK)");
  for (;;) {
    const m = vm_page_alloc_noobj_domain(k, 0, req & ~(VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL));
    if (m !== null || !wait) return m;
    await vm_wait(k);
  }
}

/** vm_page_alloc_noobj_contig_domain: npages physically contiguous pages meeting the
 *  constraints, or null; never sleeps. */
export function vm_page_alloc_noobj_contig_domain(
  k: kernel, _domain: number, req: number, npages: number, low: number, high: number, alignment: number, boundary: number,
): vm_page | null {
  check_req(req, "vm_page_alloc_noobj_contig");
  if (req & (VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL)) panic("vm_page_alloc_noobj_contig_domain: may not sleep (VM_ALLOC_WAITOK)");
  const first = vm_phys_alloc_contig(k, npages, low, high, alignment, boundary);
  if (first === null) return null;
  const base = first.phys_addr >> PAGE_SHIFT;
  for (let i = 0; i < npages; i++) init_page(k, k.vm_page_array[base + i], req);
  return first;
}

/** vm_page_alloc_noobj_contig(9): may sleep with VM_ALLOC_WAITOK (and retry once
 *  memory is freed). */
export async function vm_page_alloc_noobj_contig(
  req: number, npages: number, low: number, high: number, alignment: number, boundary: number,
): Promise<vm_page | null> {
  const k = curkernel();
  const wait = (req & VM_ALLOC_WAITOK) !== 0;
  if (wait) witness_warn_sleep("vm_page_alloc_noobj_contig(VM_ALLOC_WAITOK)");
  for (;;) {
    const m = vm_page_alloc_noobj_contig_domain(k, 0, req & ~(VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL), npages, low, high, alignment, boundary);
    if (m !== null || !wait) return m;
    await vm_wait(k);
  }
}

/** vm_page_wire: take a wiring (or hold) reference. */
export function vm_page_wire(m: vm_page): void {
  m.ref_count++;
}

/** vm_page_unwire_noq: drop a reference; true if it was the last one. */
export function vm_page_unwire_noq(m: vm_page): boolean {
  if (m.ref_count <= 0) panic(`vm_page_unwire: page 0x${m.phys_addr.toString(16)} is not wired`);
  return --m.ref_count === 0;
}

/** vm_page_unwire + free when the last reference goes. */
export function vm_page_unwire_free(k: kernel, m: vm_page): void {
  if (vm_page_unwire_noq(m)) vm_page_free(k, m);
}

/** vm_page_free: return an unreferenced page to vm_phys. */
export function vm_page_free(k: kernel, m: vm_page): void {
  if (m.ref_count !== 0) panic(`vm_page_free: freeing page 0x${m.phys_addr.toString(16)} with ref_count ${m.ref_count}`);
  if (m.pool !== VM_NFREEPOOL) panic(`vm_page_free: freeing free page 0x${m.phys_addr.toString(16)}`);
  m.object = null;
  m.flags = 0;
  vm_phys_free_pages(k, m, 0);
}

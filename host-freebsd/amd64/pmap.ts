// sys/amd64/amd64/pmap.c, reduced: physical maps.
//
// A user pmap is a real x86-64 4-level page table in RAM frames (PML4 -> PDPT -> PD ->
// PT, 512 8-byte entries each; machine/x86/paging64.ts walks it on every user access).
// Page-table pages come from vm_page_alloc_noobj (never sleeping: pmap_enter runs in
// the fault path) and each counts its valid entries in ref_count - 1 (as pmap's
// ptp wire counts); when a table empties it is freed and unlinked from its parent.
//
// The kernel pmap: kernel addresses in the model are above 2^47 (vmparam.ts), where
// walk64 does not go, so the kernel map's translations (pmap_kenter/pmap_kextract) are
// kept in a table keyed by page; the DMAP needs no entries. kernel_pmap's PML4 is an
// empty table: a kernel thread's CR3, on which every user access faults.

import type { Cpu } from "../../machine/engine.js";
import { hpa, type Hpa } from "../../machine/addr.js";
import { PTE_FRAME, PTE_NX, PTE_P, PTE_RW, PTE_US } from "../../machine/x86/paging64.js";
import { PAGE_SIZE } from "../sys/param.js";
import type { kernel } from "../sys/kernel.js";
import type { thread } from "../sys/proc.js";
import { panic } from "../kern/kern_shutdown.js";
import { PHYS_TO_VM_PAGE, VM_ALLOC_WIRED, VM_ALLOC_ZERO, vm_page_alloc_noobj_domain, vm_page_free, type vm_page } from "../vm/vm_page.js";
import { DMAP_TO_PHYS, IS_DMAP, IS_KERNEL_MAP } from "./vmparam.js";
import { PROT_EXEC, PROT_WRITE } from "../sys/mman.js";

export const KERN_SUCCESS = 0;
export const KERN_INVALID_ADDRESS = 1;
export const KERN_PROTECTION_FAILURE = 2;
export const KERN_NO_SPACE = 3;
export const KERN_RESOURCE_SHORTAGE = 6;

export class pmap {
  /** Physical address of the PML4 (what CR3 holds). */
  pm_cr3: Hpa = hpa(0);
  pm_pml4: vm_page | null = null;
  /** resident_count: leaf mappings; wired table pages besides the PML4. */
  readonly pm_stats = { resident_count: 0, pt_pages: 0 };
  /** Kernel pmap only: kernel-map page translations. */
  readonly pm_kmap = new Map<number, Hpa>();
  constructor(readonly k: kernel) {}
}

/** pmap_pinit: allocate the top-level table. False if memory is short. */
export function pmap_pinit(pm: pmap): boolean {
  const m = vm_page_alloc_noobj_domain(pm.k, 0, VM_ALLOC_WIRED | VM_ALLOC_ZERO);
  if (m === null) return false;
  pm.pm_pml4 = m;
  pm.pm_cr3 = m.phys_addr;
  return true;
}

const idx = (va: number, level: number): number => Math.floor(va / 2 ** (39 - 9 * level)) % 512;

/** Walk to the leaf PTE slot of va, optionally creating tables. Returns the slot's
 *  physical address and the chain of tables used (PML4 first). */
function pmap_pte(pm: pmap, va: number, create: boolean): { pte: Hpa; tables: Hpa[] } | null {
  const ram = pm.k.machine.ram;
  let table = pm.pm_cr3 as number;
  const tables: Hpa[] = [hpa(table)];
  for (let level = 0; level < 3; level++) {
    const slot = hpa(table + idx(va, level) * 8);
    let e = ram.read64(slot);
    if ((e & PTE_P) === 0n) {
      if (!create) return null;
      const m = vm_page_alloc_noobj_domain(pm.k, 0, VM_ALLOC_WIRED | VM_ALLOC_ZERO);
      if (m === null) return null;
      pm.pm_stats.pt_pages++;
      e = BigInt(m.phys_addr) | PTE_P | PTE_RW | PTE_US;
      ram.write64(slot, e);
      PHYS_TO_VM_PAGE(pm.k, table)!.ref_count++;
    }
    table = Number(e & PTE_FRAME);
    tables.push(hpa(table));
  }
  return { pte: hpa(table + idx(va, 3) * 8), tables };
}

/** pmap_enter: map va to page m with prot. KERN_SUCCESS or KERN_RESOURCE_SHORTAGE. */
export function pmap_enter(pm: pmap, va: number, m: vm_page, prot: number): number {
  if (va % PAGE_SIZE !== 0 || va >= 2 ** 47) panic(`pmap_enter: bad va 0x${va.toString(16)}`);
  const w = pmap_pte(pm, va, true);
  if (w === null) return KERN_RESOURCE_SHORTAGE;
  const ram = pm.k.machine.ram;
  const old = ram.read64(w.pte);
  if ((old & PTE_P) === 0n) {
    pm.pm_stats.resident_count++;
    PHYS_TO_VM_PAGE(pm.k, w.tables[3])!.ref_count++;
  }
  let e = BigInt(m.phys_addr) | PTE_P | PTE_US;
  if (prot & PROT_WRITE) e |= PTE_RW;
  if ((prot & PROT_EXEC) === 0) e |= PTE_NX;
  ram.write64(w.pte, e);
  return KERN_SUCCESS;
}

/** pmap_extract: the physical address va maps to, or null. */
export function pmap_extract(pm: pmap, va: number): Hpa | null {
  const w = pmap_pte(pm, va - (va % PAGE_SIZE), false);
  if (w === null) return null;
  const e = pm.k.machine.ram.read64(w.pte);
  if ((e & PTE_P) === 0n) return null;
  return hpa(Number(e & PTE_FRAME) + (va % PAGE_SIZE));
}

/** Drop one valid-entry count of a table page; free it (and unlink it) when empty. */
function pmap_unwire_ptp(pm: pmap, tables: Hpa[], level: number, va: number): void {
  if (level === 0) return;
  const m = PHYS_TO_VM_PAGE(pm.k, tables[level])!;
  if (--m.ref_count > 1) return;
  // Only the allocation's own wiring is left: the table is empty.
  m.ref_count = 0;
  vm_page_free(pm.k, m);
  pm.pm_stats.pt_pages--;
  pm.k.machine.ram.write64(hpa(tables[level - 1] + idx(va, level - 1) * 8), 0n);
  pmap_unwire_ptp(pm, tables, level - 1, va);
}

/** pmap_remove: unmap [sva, eva). The pages themselves belong to their objects. */
export function pmap_remove(pm: pmap, sva: number, eva: number): void {
  const ram = pm.k.machine.ram;
  for (let va = sva; va < eva; va += PAGE_SIZE) {
    const w = pmap_pte(pm, va, false);
    if (w === null) continue;
    if ((ram.read64(w.pte) & PTE_P) === 0n) continue;
    ram.write64(w.pte, 0n);
    pm.pm_stats.resident_count--;
    pmap_unwire_ptp(pm, w.tables, 3, va);
  }
}

/** pmap_release: free the top-level table of a pmap with no mappings left. */
export function pmap_release(pm: pmap): void {
  if (pm.pm_stats.resident_count !== 0 || pm.pm_stats.pt_pages !== 0)
    panic(`pmap_release: pmap still has ${pm.pm_stats.resident_count} mappings, ${pm.pm_stats.pt_pages} table pages`);
  if (pm.pm_pml4 !== null) {
    pm.pm_pml4.ref_count = 0;
    vm_page_free(pm.k, pm.pm_pml4);
    pm.pm_pml4 = null;
  }
}

/** pmap_kenter: map a kernel-map page to a physical page. */
export function pmap_kenter(k: kernel, va: number, pa: Hpa): void {
  if (!IS_KERNEL_MAP(va) || va % PAGE_SIZE !== 0) panic(`pmap_kenter: bad va 0x${va.toString(16)}`);
  k.kernel_pmap.pm_kmap.set(va, pa);
}

export function pmap_kremove(k: kernel, va: number): void {
  k.kernel_pmap.pm_kmap.delete(va);
}

/** pmap_kextract: physical address of a kernel virtual address (DMAP or kernel map),
 *  or null if unmapped. */
export function pmap_kextract(k: kernel, va: number): Hpa | null {
  if (IS_DMAP(va)) {
    const pa = DMAP_TO_PHYS(va);
    return pa < k.machine.ram.size_bytes ? pa : null;
  }
  if (IS_KERNEL_MAP(va)) {
    const off = va % PAGE_SIZE;
    const pa = k.kernel_pmap.pm_kmap.get(va - off);
    return pa === undefined ? null : hpa(pa + off);
  }
  return null;
}

/** A kernel-mode load or store through the kernel's translations; an unmapped address
 *  is a fatal kernel page fault (trap 12). */
export function kmem_access(k: kernel, va: number, buf: Uint8Array, write: boolean): void {
  let done = 0;
  while (done < buf.length) {
    const at = va + done;
    const n = Math.min(PAGE_SIZE - (at % PAGE_SIZE), buf.length - done);
    const pa = pmap_kextract(k, at);
    if (pa === null)
      panic(`Fatal trap 12: page fault while in kernel mode\nfault virtual address\t= 0x${at.toString(16)}\nfault code\t\t= supervisor ${write ? "write" : "read"} data, page not present`);
    if (write) k.machine.ram.write(pa, buf.subarray(done, done + n));
    else k.machine.ram.read(pa, buf.subarray(done, done + n));
    done += n;
  }
}

/** The CR3 to load when td runs: its process's pmap, or the kernel pmap. */
export function pmap_activate_cr3(cpu: Cpu, td: thread): void {
  cpu.x86.state.cr3 = td.td_proc.p_vmspace.vm_pmap.pm_cr3;
}

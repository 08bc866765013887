// drivers/kvm/mmu.c: the shadow MMU, non-paging mode (seed 002: nonpaging_map,
// nonpaging_page_fault). While the guest runs with paging off (real mode, or
// protected mode with CR0.PG=0), its linear addresses are guest-physical; the shadow
// page table maps them to the host frames that back guest memory, and the CPU walks
// it in VMX non-root operation. Entries are filled lazily, on the #PF exits the
// exception bitmap forces.
//
// Shadow format: 2-level 32-bit paging (hardware CR4.PAE=0, PSE=0).
//   PDE/PTE: [31:12] frame  [2] U/S  [1] R/W  [0] P
//   linear:  [31:22] directory index  [21:12] table index  [11:0] offset
//
// Locking: kvm.lock (a spinlock) is held while entries are written; nothing under it
// sleeps, so shadow pages come from a per-vcpu cache topped up beforehand
// (mmu_topup_memory_caches), and guest pages are pinned before the lock is taken.

import { __GFP_ZERO, GFP_KERNEL, __free_page, alloc_page, page_to_pfn } from "../compat/linux/gfp.js";
import { kread32, kwrite32 } from "../compat/linux/kmem.js";
import { page_address, get_user_pages_fast, put_page } from "../compat/linux/mm.js";
import type { page } from "../compat/linux/mm_types.js";
import { spin_lock, spin_unlock } from "../compat/linux/spinlock.js";
import { PAGE_SHIFT, PAGE_SIZE, kva, uva, type Kva, type gpa_t, type gva_t } from "../compat/linux/types.js";
import type { kvm, kvm_memory_slot, kvm_mmu_page, kvm_vcpu } from "./kvm_host.js";
import {
  PFERR_USER_MASK, PFERR_WRITE_MASK, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK,
  paging32_set_accessed_dirty, paging32_walk_addr,
} from "./paging_tmpl.js";

const PT32_ENT_PER_PAGE = 1024;

/** Pages kept ready so that faults can be fixed without sleeping under kvm.lock. */
export const KVM_MIN_FREE_MMU_PAGES = 2;

export interface mmu_memory_cache {
  pages: page[];
}

export function gfn_to_memslot(kvm: kvm, gfn: number): kvm_memory_slot | null {
  for (let i = 0; i < kvm.nmemslots; i++) {
    const s = kvm.memslots[i];
    if (s !== null && gfn >= s.base_gfn && gfn < s.base_gfn + s.npages) return s;
  }
  return null;
}

/** Fill the vcpu's page cache (may sleep: called with the vcpu not loaded). */
export async function mmu_topup_memory_caches(cache: mmu_memory_cache): Promise<number> {
  while (cache.pages.length < KVM_MIN_FREE_MMU_PAGES) {
    const p = await alloc_page(GFP_KERNEL | __GFP_ZERO);
    if (p === null) return -12; // -ENOMEM
    cache.pages.push(p);
  }
  return 0;
}

/** Pin the host page backing gfn if it is user memory not yet pinned (may sleep). */
export async function mmu_pin_gfn(kvm: kvm, gfn: number): Promise<number> {
  const slot = gfn_to_memslot(kvm, gfn);
  if (slot === null || slot.kernel_owned) return 0;
  const i = gfn - slot.base_gfn;
  if (slot.phys_mem[i] !== null) return 0;
  const pages: page[] = [];
  const addr = uva(slot.userspace_addr! + i * PAGE_SIZE);
  const n = await get_user_pages_fast(addr, 1, true, pages);
  if (n !== 1) return n < 0 ? n : -14; // -EFAULT
  // The slot may have changed while we slept: keep the pin only if it is still wanted.
  if (kvm.memslots[slot.id] === slot && slot.phys_mem[i] === null) slot.phys_mem[i] = pages[0];
  else put_page(pages[0]);
  return 0;
}

function alloc_shadow_page(vcpu: kvm_vcpu, cache: mmu_memory_cache, level: number): kvm_mmu_page | null {
  const p = cache.pages.pop();
  if (p === undefined) return null;
  const sp: kvm_mmu_page = { page: p, kva: page_address(p), pfn: page_to_pfn(p), level };
  vcpu.mmu.pages.push(sp);
  return sp;
}

export type FaultResult =
  | { kind: "fixed" }
  /** Not fixable without sleeping: top up the page cache and pin `pin_gfn` (if set), then re-enter. */
  | { kind: "retry"; pin_gfn: number | null }
  /** The address is not guest RAM: the access must be emulated. */
  | { kind: "mmio"; gpa: gpa_t }
  /** The guest's own page fault: reflect it with this error code. */
  | { kind: "guest_fault"; error_code: number };

const FIXED: FaultResult = { kind: "fixed" };
const RETRY: FaultResult = { kind: "retry", pin_gfn: null };

/** Make sure the vcpu has a shadow root; false if the cache is empty. Caller holds kvm.lock. */
export function mmu_alloc_root(vcpu: kvm_vcpu, cache: mmu_memory_cache): boolean {
  if (vcpu.mmu.root !== null) return true;
  const root = alloc_shadow_page(vcpu, cache, 2);
  if (root === null) return false;
  vcpu.mmu.root = root;
  return true;
}

/** Install the shadow PTE for linear `addr` -> host frame `host_pfn`. Caller holds
 *  kvm.lock; false if a shadow page table was needed and the cache is empty. */
function shadow_set_pte(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: number, host_pfn: number, writable: boolean, user: boolean): boolean {
  if (!mmu_alloc_root(vcpu, cache)) return false;
  const dir_index = (addr >>> 22) & (PT32_ENT_PER_PAGE - 1);
  const pde_at = kva(vcpu.mmu.root!.kva + dir_index * 4);
  const pde = kread32(pde_at);
  let table: Kva;
  if ((pde & PT_PRESENT_MASK) === 0) {
    const pt = alloc_shadow_page(vcpu, cache, 1);
    if (pt === null) return false;
    // Directory entries grant everything; the leaf entries carry the permissions.
    kwrite32(pde_at, ((pt.pfn << PAGE_SHIFT) | PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK) >>> 0);
    table = pt.kva;
  } else {
    table = shadow_kva(vcpu, pde >>> PAGE_SHIFT);
  }
  const pte_index = (addr >>> PAGE_SHIFT) & (PT32_ENT_PER_PAGE - 1);
  const pte = (host_pfn << PAGE_SHIFT) | PT_PRESENT_MASK | (writable ? PT_WRITABLE_MASK : 0) | (user ? PT_USER_MASK : 0);
  kwrite32(kva(table + pte_index * 4), pte >>> 0);
  vcpu.kvm.stat.pf_fixed++;
  return true;
}

/** The pinned host page behind a gfn: a page, "mmio" (no slot), or "unpinned". */
function gfn_to_backing(kvm: kvm, gfn: number): page | "mmio" | "unpinned" {
  const slot = gfn_to_memslot(kvm, gfn);
  if (slot === null) return "mmio";
  return slot.phys_mem[gfn - slot.base_gfn] ?? "unpinned";
}

/** mark_page_dirty: note a write to gfn in its slot's dirty bitmap. Caller holds kvm.lock. */
export function mark_page_dirty(kvm: kvm, gfn: number): void {
  const slot = gfn_to_memslot(kvm, gfn);
  if (slot === null || slot.dirty_bitmap === null) return;
  const i = gfn - slot.base_gfn;
  slot.dirty_bitmap[i >>> 3] |= 1 << (i & 7);
}

/** Pages of a dirty-logged slot are mapped writable only by a write fault, which logs them. */
function logging(kvm: kvm, gfn: number): boolean {
  return gfn_to_memslot(kvm, gfn)?.dirty_bitmap != null;
}

/** nonpaging_page_fault: guest paging is off, so the faulting linear address is the
 *  guest-physical address; map it 1:1 onto the host frame behind it. */
export function nonpaging_page_fault(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gpa_t, error_code: number): FaultResult {
  const kvm = vcpu.kvm;
  const gfn = Math.floor(addr / PAGE_SIZE);
  const write = (error_code & PFERR_WRITE_MASK) !== 0;
  spin_lock(kvm.lock);
  try {
    const backing = gfn_to_backing(kvm, gfn);
    if (backing === "mmio") return { kind: "mmio", gpa: addr };
    if (backing === "unpinned") return { kind: "retry", pin_gfn: gfn };
    const log = logging(kvm, gfn);
    if (!shadow_set_pte(vcpu, cache, addr, page_to_pfn(backing), !log || write, true)) return RETRY;
    if (write) mark_page_dirty(kvm, gfn);
    return FIXED;
  } finally {
    spin_unlock(kvm.lock);
  }
}

/** paging32_page_fault: walk the guest's tables; reflect the guest's own faults, set
 *  its A/D bits, and shadow the mapping (see paging_tmpl.ts for the rules). */
export function paging32_page_fault(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gva_t, error_code: number): FaultResult {
  const kvm = vcpu.kvm;
  const write = (error_code & PFERR_WRITE_MASK) !== 0;
  const user = (error_code & PFERR_USER_MASK) !== 0;
  spin_lock(kvm.lock);
  try {
    const w = paging32_walk_addr(vcpu, addr, write, user);
    switch (w.kind) {
      case "unpinned":
        return { kind: "retry", pin_gfn: w.gfn };
      case "bad_table":
        return { kind: "mmio", gpa: w.gpa };
      case "fault":
        kvm.stat.pf_guest++;
        return { kind: "guest_fault", error_code: w.error_code };
      case "ok":
        break;
    }
    const backing = gfn_to_backing(kvm, Math.floor(w.gpa / PAGE_SIZE));
    if (backing === "mmio") return { kind: "mmio", gpa: w.gpa };
    if (backing === "unpinned") return { kind: "retry", pin_gfn: Math.floor(w.gpa / PAGE_SIZE) };
    const gfn = Math.floor(w.gpa / PAGE_SIZE);
    // Writable in the shadow only once dirty (and, in a dirty-logged slot, only after
    // a write fault logged it); a CR0.WP=0 supervisor write to a read-only page is
    // writable but supervisor-only.
    const wp_override = write && !user && !w.writable;
    const writable = ((w.writable && (w.dirty || write)) || wp_override) && (write || !logging(kvm, gfn));
    const usr = w.user && !wp_override;
    if (!shadow_set_pte(vcpu, cache, addr, page_to_pfn(backing), writable, usr)) return RETRY;
    for (const g of paging32_set_accessed_dirty(vcpu, w, write)) mark_page_dirty(kvm, g);
    if (write) mark_page_dirty(kvm, gfn);
    return FIXED;
  } finally {
    spin_unlock(kvm.lock);
  }
}

/** INVLPG: drop the shadow entry for one linear address. Caller holds kvm.lock. */
export function kvm_mmu_invlpg(vcpu: kvm_vcpu, addr: gva_t): void {
  vcpu.kvm.stat.invlpg++;
  const root = vcpu.mmu.root;
  if (root === null) return;
  const pde = kread32(kva(root.kva + ((addr >>> 22) & (PT32_ENT_PER_PAGE - 1)) * 4));
  if ((pde & PT_PRESENT_MASK) === 0) return;
  kwrite32(kva(shadow_kva(vcpu, pde >>> PAGE_SHIFT) + ((addr >>> PAGE_SHIFT) & (PT32_ENT_PER_PAGE - 1)) * 4), 0);
}

function shadow_kva(vcpu: kvm_vcpu, pfn: number): Kva {
  for (const sp of vcpu.mmu.pages) if (sp.pfn === pfn) return sp.kva;
  throw new Error(`kvm: shadow PDE points at pfn 0x${pfn.toString(16)}, which is not a shadow page`);
}

/** Host-physical address of the shadow root, for GUEST_CR3. */
export function mmu_root_hpa(vcpu: kvm_vcpu): number {
  return vcpu.mmu.root === null ? 0 : vcpu.mmu.root.pfn << PAGE_SHIFT;
}

/** Drop every shadow page of a vcpu (context change, memslot change, destroy). The
 *  caller holds kvm.lock or owns the vcpu exclusively. */
export function kvm_mmu_reset_context(vcpu: kvm_vcpu): void {
  for (const sp of vcpu.mmu.pages) __free_page(sp.page);
  vcpu.mmu.pages = [];
  vcpu.mmu.root = null;
  vcpu.kvm.stat.tlb_flush++;
}

/** kvm_mmu_zap_all: after a memslot change, no vcpu may keep a stale translation. */
export function kvm_mmu_zap_all(kvm: kvm): void {
  for (const v of kvm.vcpus) if (v !== null) kvm_mmu_reset_context(v);
}

export function mmu_free_memory_cache(cache: mmu_memory_cache): void {
  for (const p of cache.pages) __free_page(p);
  cache.pages = [];
}

/** Release what a slot holds: kernel pages are freed, pinned user pages unpinned. */
export function kvm_free_physmem_slot(slot: kvm_memory_slot): void {
  for (const p of slot.phys_mem) {
    if (p === null) continue;
    if (slot.kernel_owned) __free_page(p);
    else put_page(p);
  }
  slot.phys_mem.fill(null);
}

/** gva_to_gpa for the current paging mode (KVM_TRANSLATE). Caller holds kvm.lock. */
export function kvm_mmu_gva_to_gpa(vcpu: kvm_vcpu, addr: number): { kind: "ok"; gpa: gpa_t } | { kind: "invalid" } | { kind: "unpinned"; gfn: number } {
  if ((vcpu.cr0 & (1 << 31)) === 0) return { kind: "ok", gpa: addr as gpa_t };
  if ((vcpu.cr4 & (1 << 5)) !== 0) return { kind: "invalid" };
  const w = paging32_walk_addr(vcpu, addr as gva_t, false, false);
  if (w.kind === "ok") return { kind: "ok", gpa: w.gpa };
  if (w.kind === "unpinned") return { kind: "unpinned", gfn: w.gfn };
  return { kind: "invalid" };
}

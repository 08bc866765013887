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
// The shadow-page cache (what the 2006 driver's authors planned, and Linux built in 2007):
// a shadow page is keyed by (guest frame it shadows, level, role) in a hash and survives
// guest CR3 loads, so an address space the guest returns to finds its shadow root and
// tables already filled. Role = CR0.WP | CR4.PSE | the guest PDE's R/W and U/S (a shadow
// table's leaf entries combine them with the PTE's). A frame with a cached shadow page is
// a guest page table: every leaf shadow PTE mapping it is read-only (found through the
// reverse map), so a guest write to it faults; the fault zaps the shadow pages derived
// from that frame before the write is let through (mmu_pte_write). A table that shadows
// the very frame the faulting write targets, and the shadow table of a PSE page, are not
// cached: they are transient and freed at the next CR3 load, as every shadow page was
// before (the guest must INVLPG or reload CR3 after changing them, SDM 4.10.4). The
// module parameter mmu_cache=0 turns the cache off: every page is then transient.
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
import type { kvm, kvm_memory_slot, kvm_mmu_page, kvm_vcpu, shadow_page_cache } from "./kvm_host.js";
import { kvm_globals } from "./kvm_globals.js";
import {
  PFERR_USER_MASK, PFERR_WRITE_MASK, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK,
  kvm_read_guest_u32, paging32_set_accessed_dirty, paging32_walk_addr,
} from "./paging_tmpl.js";

const PT32_ENT_PER_PAGE = 1024;
/** More shadow pages than this at a CR3 load: drop them all (Linux recycles the least
 *  recently used, KVM_NUM_MMU_PAGES). */
const KVM_MAX_MMU_PAGES = 1024;
const X86_CR0_PG = 1 << 31;
const X86_CR0_WP = 1 << 16;
const X86_CR4_PSE = 1 << 4;

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

function spc(vcpu: kvm_vcpu): shadow_page_cache {
  return vcpu.mmu.cache ??= { hash: new Map(), by_gfn: new Map(), by_pfn: new Map(), rmap: new Map(), spte_gfn: new Map() };
}

function cache_stat(kvm: kvm): NonNullable<kvm["mmu_cache_stat"]> {
  return kvm.mmu_cache_stat ??= { hit: 0, miss: 0, zapped: 0, pte_write: 0 };
}

const cache_enabled = (): boolean => kvm_globals().mmu_cache;

function alloc_shadow_page(vcpu: kvm_vcpu, cache: mmu_memory_cache, level: number): kvm_mmu_page | null {
  const p = cache.pages.pop();
  if (p === undefined) return null;
  const sp: kvm_mmu_page = { page: p, kva: page_address(p), pfn: page_to_pfn(p), level, parents: new Set() };
  vcpu.mmu.pages.push(sp);
  spc(vcpu).by_pfn.set(sp.pfn, sp);
  return sp;
}

/** The role of a shadow page: what, besides the guest frame, its entries depend on. */
function mmu_role(vcpu: kvm_vcpu, pde: number): number {
  return ((vcpu.cr0 & X86_CR0_WP) !== 0 ? 1 : 0) | ((vcpu.cr4 & X86_CR4_PSE) !== 0 ? 2 : 0) |
    ((pde & PT_WRITABLE_MASK) !== 0 ? 4 : 0) | ((pde & PT_USER_MASK) !== 0 ? 8 : 0);
}

/** kvm_mmu_get_page: the cached shadow page for (gfn, level, role), or a new one (cached
 *  if `cacheable` and the cache is on: its guest frame is then write-protected). */
function kvm_mmu_get_page(vcpu: kvm_vcpu, mc: mmu_memory_cache, gfn: number, level: number, role: number, cacheable: boolean): kvm_mmu_page | null {
  const c = spc(vcpu);
  const st = cache_stat(vcpu.kvm);
  const key = `${gfn}:${level}:${role}`;
  const on = cacheable && cache_enabled();
  if (on) {
    const hit = c.hash.get(key);
    if (hit !== undefined) {
      st.hit++;
      return hit;
    }
  }
  const sp = alloc_shadow_page(vcpu, mc, level);
  if (sp === null) return null;
  st.miss++;
  sp.gfn = gfn;
  sp.role = role;
  if (on) {
    sp.cached = true;
    c.hash.set(key, sp);
    let set = c.by_gfn.get(gfn);
    if (set === undefined) c.by_gfn.set(gfn, (set = new Set()));
    set.add(sp);
    rmap_write_protect(vcpu.kvm, gfn);
  }
  return sp;
}

/** Make every leaf shadow PTE that maps gfn read-only, in every vcpu's shadow. (The
 *  CPU's TLB is flushed at every VM entry, so no stale writable translation survives.) */
function rmap_write_protect(kvm: kvm, gfn: number): void {
  for (const v of kvm.vcpus) {
    const set = v?.mmu.cache?.rmap.get(gfn);
    if (set === undefined) continue;
    for (const at of set) {
      const e = kread32(kva(at));
      if ((e & PT_WRITABLE_MASK) !== 0) kwrite32(kva(at), (e & ~PT_WRITABLE_MASK) >>> 0);
    }
  }
}

/** Does any vcpu cache a shadow page of guest frame gfn (so gfn must stay write-protected)? */
function gfn_is_shadowed(kvm: kvm, gfn: number): boolean {
  for (const v of kvm.vcpus) if ((v?.mmu.cache?.by_gfn.get(gfn)?.size ?? 0) > 0) return true;
  return false;
}

/** mmu_pte_write: the guest writes gfn, a page table: zap what was derived from it. */
function kvm_mmu_zap_gfn(kvm: kvm, gfn: number): void {
  cache_stat(kvm).pte_write++;
  for (const v of kvm.vcpus) {
    const set = v?.mmu.cache?.by_gfn.get(gfn);
    if (v === null || set === undefined) continue;
    for (const sp of [...set]) kvm_mmu_zap_page(v, sp);
  }
}

function rmap_remove(c: shadow_page_cache, at: number): void {
  const g = c.spte_gfn.get(at);
  if (g === undefined) return;
  c.spte_gfn.delete(at);
  const set = c.rmap.get(g);
  if (set === undefined) return;
  set.delete(at);
  if (set.size === 0) c.rmap.delete(g);
}

function rmap_add(c: shadow_page_cache, at: number, gfn: number): void {
  rmap_remove(c, at);
  c.spte_gfn.set(at, gfn);
  let set = c.rmap.get(gfn);
  if (set === undefined) c.rmap.set(gfn, (set = new Set()));
  set.add(at);
}

/** kvm_mmu_zap_page: unlink a shadow page from the PDEs that point at it (and its
 *  children from it), forget its leaf entries, and free it. A vcpu's current root (its
 *  GUEST_CR3, possibly in use on another CPU) is not freed but emptied and made
 *  transient: it refills by faults and goes at that vcpu's next CR3 load. */
function kvm_mmu_zap_page(vcpu: kvm_vcpu, sp: kvm_mmu_page): void {
  const c = spc(vcpu);
  const keep = vcpu.mmu.root === sp;
  for (const at of sp.parents ?? []) kwrite32(kva(at), 0);
  sp.parents?.clear();
  for (let i = 0; i < PT32_ENT_PER_PAGE; i++) {
    const at = sp.kva + i * 4;
    const e = kread32(kva(at));
    if ((e & PT_PRESENT_MASK) === 0) continue;
    if (sp.level === 2) c.by_pfn.get(e >>> PAGE_SHIFT)?.parents?.delete(at);
    else rmap_remove(c, at);
    if (keep) kwrite32(kva(at), 0);
  }
  if (sp.cached === true) {
    c.hash.delete(`${sp.gfn}:${sp.level}:${sp.role}`);
    const set = c.by_gfn.get(sp.gfn!);
    set?.delete(sp);
    if (set?.size === 0) c.by_gfn.delete(sp.gfn!);
    sp.cached = false;
    cache_stat(vcpu.kvm).zapped++;
  }
  if (keep) return;
  c.by_pfn.delete(sp.pfn);
  const i = vcpu.mmu.pages.indexOf(sp);
  if (i >= 0) vcpu.mmu.pages.splice(i, 1);
  __free_page(sp.page);
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

/** Make sure the vcpu has a shadow root; false if the cache is empty. Caller holds
 *  kvm.lock. With guest paging on the root shadows the guest's page directory (CR3) and
 *  comes from the cache, unless the faulting write targets that very frame (`write_gfn`). */
export function mmu_alloc_root(vcpu: kvm_vcpu, cache: mmu_memory_cache, write_gfn = -1): boolean {
  if (vcpu.mmu.root !== null) return true;
  const paging = (vcpu.cr0 & X86_CR0_PG) !== 0;
  const gfn = paging ? vcpu.cr3 >>> PAGE_SHIFT : -1;
  const root = kvm_mmu_get_page(vcpu, cache, gfn, 2, mmu_role(vcpu, 0), paging && gfn !== write_gfn);
  if (root === null) return false;
  vcpu.mmu.root = root;
  return true;
}

/** Which shadow page table a guest mapping goes through: the guest page table it shadows
 *  (gfn) and the guest PDE's bits, or null for a PSE page or paging off (a transient table). */
interface shadow_table_source {
  gfn: number;
  pde: number;
}

/** Install the shadow PTE for linear `addr` -> host frame `host_pfn` (guest frame
 *  `gfn`). Caller holds kvm.lock; false if a shadow page table was needed and the cache
 *  is empty. */
function shadow_set_pte(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: number, host_pfn: number, gfn: number, writable: boolean, user: boolean,
  src: shadow_table_source | null): boolean {
  const write_gfn = writable ? gfn : -1;
  if (!mmu_alloc_root(vcpu, cache, write_gfn)) return false;
  const c = spc(vcpu);
  const dir_index = (addr >>> 22) & (PT32_ENT_PER_PAGE - 1);
  const pde_at = kva(vcpu.mmu.root!.kva + dir_index * 4);
  const pde = kread32(pde_at);
  let table: Kva;
  if ((pde & PT_PRESENT_MASK) === 0) {
    const pt = src === null
      ? kvm_mmu_get_page(vcpu, cache, -1, 1, 0, false)
      : kvm_mmu_get_page(vcpu, cache, src.gfn, 1, mmu_role(vcpu, src.pde), src.gfn !== write_gfn);
    if (pt === null) return false;
    // Directory entries grant everything; the leaf entries carry the permissions.
    kwrite32(pde_at, ((pt.pfn << PAGE_SHIFT) | PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK) >>> 0);
    pt.parents!.add(pde_at);
    table = pt.kva;
  } else {
    table = shadow_kva(vcpu, pde >>> PAGE_SHIFT);
  }
  const pte_index = (addr >>> PAGE_SHIFT) & (PT32_ENT_PER_PAGE - 1);
  const pte = (host_pfn << PAGE_SHIFT) | PT_PRESENT_MASK | (writable ? PT_WRITABLE_MASK : 0) | (user ? PT_USER_MASK : 0);
  kwrite32(kva(table + pte_index * 4), pte >>> 0);
  rmap_add(c, table + pte_index * 4, gfn);
  vcpu.kvm.stat.pf_fixed++;
  return true;
}

/** A writable mapping of gfn is about to be installed. If gfn is a shadowed guest page
 *  table, a write zaps its shadow pages first (the write then goes through); a read keeps
 *  the mapping read-only. Returns whether the mapping may be writable. */
function mmu_unprotect_for(kvm: kvm, gfn: number, write: boolean): boolean {
  if (!gfn_is_shadowed(kvm, gfn)) return true;
  if (!write) return false;
  kvm_mmu_zap_gfn(kvm, gfn);
  return true;
}

/** The pinned host page behind a gfn: a page, "mmio" (no slot), or "unpinned" (user
 *  memory the guest has not touched yet: pin it with mmu_pin_gfn, which may sleep). */
export function gfn_to_backing(kvm: kvm, gfn: number): page | "mmio" | "unpinned" {
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
export function logging(kvm: kvm, gfn: number): boolean {
  return gfn_to_memslot(kvm, gfn)?.dirty_bitmap != null;
}

/** nonpaging_page_fault: guest paging is off, so the faulting linear address is the
 *  guest-physical address; map it 1:1 onto the host frame behind it. */
export async function nonpaging_page_fault(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gpa_t, error_code: number): Promise<FaultResult> {
  const kvm = vcpu.kvm;
  const gfn = Math.floor(addr / PAGE_SIZE);
  const write = (error_code & PFERR_WRITE_MASK) !== 0;
  await spin_lock(kvm.lock);
  try {
    const backing = gfn_to_backing(kvm, gfn);
    if (backing === "mmio") return { kind: "mmio", gpa: addr };
    if (backing === "unpinned") return { kind: "retry", pin_gfn: gfn };
    const log = logging(kvm, gfn);
    const writable = (!log || write) && mmu_unprotect_for(kvm, gfn, write);
    if (!shadow_set_pte(vcpu, cache, addr, page_to_pfn(backing), gfn, writable, true, null)) return RETRY;
    if (write) mark_page_dirty(kvm, gfn);
    return FIXED;
  } finally {
    spin_unlock(kvm.lock);
  }
}

/** paging32_page_fault: walk the guest's tables; reflect the guest's own faults, set
 *  its A/D bits, and shadow the mapping (see paging_tmpl.ts for the rules). */
export async function paging32_page_fault(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gva_t, error_code: number): Promise<FaultResult> {
  const kvm = vcpu.kvm;
  const write = (error_code & PFERR_WRITE_MASK) !== 0;
  const user = (error_code & PFERR_USER_MASK) !== 0;
  await spin_lock(kvm.lock);
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
    let writable = ((w.writable && (w.dirty || write)) || wp_override) && (write || !logging(kvm, gfn));
    if (writable) writable = mmu_unprotect_for(kvm, gfn, write);
    const usr = w.user && !wp_override;
    let src: shadow_table_source | null = null;
    if (!w.large) {
      const pde = kvm_read_guest_u32(kvm, w.pde_gpa);
      if (pde.ok) src = { gfn: Math.floor(w.pte_gpa / PAGE_SIZE), pde: pde.value };
    }
    if (!shadow_set_pte(vcpu, cache, addr, page_to_pfn(backing), gfn, writable, usr, src)) return RETRY;
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
  const at = shadow_kva(vcpu, pde >>> PAGE_SHIFT) + ((addr >>> PAGE_SHIFT) & (PT32_ENT_PER_PAGE - 1)) * 4;
  kwrite32(kva(at), 0);
  rmap_remove(spc(vcpu), at);
}

function shadow_kva(vcpu: kvm_vcpu, pfn: number): Kva {
  const sp = vcpu.mmu.cache?.by_pfn.get(pfn);
  if (sp !== undefined) return sp.kva;
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
  vcpu.mmu.cache = undefined;
  vcpu.kvm.stat.tlb_flush++;
}

/** A guest CR3 load with paging on: the cached shadow pages stay (the next entry finds
 *  the new root in the hash); the transient ones go. Without the cache, or past
 *  KVM_MAX_MMU_PAGES, everything goes, as before the cache. Caller holds kvm.lock or
 *  owns the vcpu. */
export function kvm_mmu_new_cr3(vcpu: kvm_vcpu): void {
  if (!cache_enabled() || vcpu.mmu.pages.length > KVM_MAX_MMU_PAGES) {
    kvm_mmu_reset_context(vcpu);
    return;
  }
  vcpu.mmu.root = null;
  // Parents (roots) go after their children, so that children unlink from live pages.
  for (const sp of vcpu.mmu.pages.filter((p) => p.cached !== true).sort((a, b) => a.level - b.level)) kvm_mmu_zap_page(vcpu, sp);
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

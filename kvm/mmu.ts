// drivers/kvm/mmu.c: the shadow MMU (seed 002: nonpaging_map, nonpaging_page_fault, and
// the paging_tmpl.h instantiations). The CPU in VMX non-root operation walks a shadow page
// table kvm builds in host frames; it maps the guest's linear addresses to the host frames
// behind guest memory. Entries are filled lazily, on the #PF exits the exception bitmap
// forces. With paging off (real mode, or CR0.PG=0), linear addresses are guest-physical.
//
// Shadow formats (the CR4.PAE the CPU runs the guest with, hw_cr4 in vmx.ts):
//   32-bit (hardware CR4.PAE=0, PSE=0), for paging off and for 32-bit guest paging:
//     PDE/PTE: [31:12] frame  [2] U/S  [1] R/W  [0] P; linear [31:22] PD, [21:12] PT.
//   PAE (hardware CR4.PAE=1), for PAE guest paging:
//     PDPTE: [31:12] frame  [0] P;  PDE/PTE: [31:12] frame  [2] U/S  [1] R/W  [0] P
//     (8-byte entries, high dword 0); linear [31:30] PDPT, [29:21] PD, [20:12] PT.
// Each format shadows the guest format of the same shape, table for table: a shadow page
// table shadows one guest page table, a shadow PAE page directory one guest page
// directory, so a shadow page is keyed by the guest frame it shadows whatever the mode.
// DIVERGENCE: the 2007 driver ran every guest on PAE (or 4-level) shadow tables and shadowed a
// 1024-entry 32-bit guest table with two 512-entry ones; matching the shapes avoids those
// "quadrants" and keeps the 32-bit path as it was. The PAE root is the vcpu's own PDPT,
// not cached: its entries come from the PDPTRs the guest loaded with CR3 (paging_tmpl.ts),
// and are filled on the first fault below each. Guest large pages (4 MiB PSE, 2 MiB PAE)
// are shadowed by a transient table of 4 KiB entries.
//
// The shadow-page cache (what the 2006 driver's authors planned, and Linux built in 2007):
// a shadow page is keyed by (guest frame it shadows, level, role) in a hash and survives
// guest CR3 loads, so an address space the guest returns to finds its shadow tables already
// filled. Role = CR0.WP | CR4.PSE | the guest PDE's R/W and U/S (a shadow table's leaf
// entries combine them with the PTE's) | the format. A frame with a cached shadow page is
// a guest page table: every leaf shadow PTE mapping it is read-only (found through the
// reverse map), so a guest write to it faults; the write is emulated (x86_emulate) and
// kvm_mmu_pte_write drops the shadow entries derived from the guest entries it wrote. An
// instruction the emulator cannot do unprotects the frame instead (every shadow page of it
// is zapped) and runs in the guest. A table that shadows the very frame the faulting
// write targets, and the shadow table of a large page, are not cached: they are transient
// and freed at the next CR3 load, as every shadow page was before (the guest must INVLPG
// or reload CR3 after changing them, SDM 4.10.4). The module parameter mmu_cache=0 turns
// the cache off: every page is then transient.
//
// Write flooding (Linux's detect_write_flooding, kvm_stat mmu_flooded): a shadow page
// whose guest frame is written KVM_MMU_WRITE_FLOODING_THRESHOLD times with no fault going
// through the shadow page in between is zapped: the guest has stopped using the frame as
// a page table (it freed it and reuses it as data), and emulating each write would cost
// an exit per store. Once no shadow page holds the frame it is writable again.
//
// Locking: kvm.lock (a spinlock) is held while entries are written; nothing under it
// sleeps, so shadow pages come from a per-vcpu cache topped up beforehand
// (mmu_topup_memory_caches), and guest pages are pinned before the lock is taken.

import { __GFP_ZERO, GFP_KERNEL, __free_page, alloc_page, page_to_pfn } from "../compat/linux/gfp.js";
import { kread32, kwrite32 } from "../compat/linux/kmem.js";
import { page_address, get_user_pages_fast, put_page } from "../compat/linux/mm.js";
import type { page } from "../compat/linux/mm_types.js";
import { spin_lock, spin_unlock } from "../compat/linux/spinlock.js";
import { PAGE_SHIFT, PAGE_SIZE, kva, uva, type gpa_t, type gva_t } from "../compat/linux/types.js";
import type { kvm, kvm_memory_slot, kvm_mmu_page, kvm_vcpu, shadow_page_cache } from "./kvm_host.js";
import { kvm_globals } from "./kvm_globals.js";
import { KVM_MEM_READONLY } from "../include/uapi/linux/kvm.js";
import {
  PFERR_USER_MASK, PFERR_WRITE_MASK, PT32, PT64, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK,
  kvm_mmu_walk_addr, set_accessed_dirty, walk_addr, type pt_format,
} from "./paging_tmpl.js";

/** More shadow pages than this at a CR3 load: drop them all (Linux recycles the least
 *  recently used, KVM_NUM_MMU_PAGES). */
const KVM_MAX_MMU_PAGES = 1024;
/** Guest writes to a shadowed table with no fault using its shadow page in between after
 *  which the shadow page is zapped (detect_write_flooding). */
const KVM_MMU_WRITE_FLOODING_THRESHOLD = 3;
const X86_CR0_PG = 1 << 31;
const X86_CR0_WP = 1 << 16;
const X86_CR4_PSE = 1 << 4;
const X86_CR4_PAE = 1 << 5;
/** Role bits: what, besides the guest frame and level, a shadow page's entries depend on. */
const ROLE_WP = 1, ROLE_PSE = 2, ROLE_PDE_W = 4, ROLE_PDE_U = 8, ROLE_PAE = 16;

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

/** The format of the shadow tables for the guest's current mode: PAE when the guest pages
 *  with PAE, 32-bit otherwise (paging off included). */
export const shadow_format = (vcpu: kvm_vcpu): pt_format =>
  (vcpu.cr0 & X86_CR0_PG) !== 0 && (vcpu.cr4 & X86_CR4_PAE) !== 0 ? PT64 : PT32;

const sp_format = (sp: kvm_mmu_page): pt_format => (sp.pae === true ? PT64 : PT32);

function alloc_shadow_page(vcpu: kvm_vcpu, cache: mmu_memory_cache, level: number, pae: boolean): kvm_mmu_page | null {
  const p = cache.pages.pop();
  if (p === undefined) return null;
  const sp: kvm_mmu_page = { page: p, kva: page_address(p), pfn: page_to_pfn(p), level, pae, parents: new Set(), write_flooding_count: 0 };
  vcpu.mmu.pages.push(sp);
  spc(vcpu).by_pfn.set(sp.pfn, sp);
  return sp;
}

/** The role of a shadow page: what, besides the guest frame, its entries depend on (the
 *  guest PDE's R/W and U/S for a page table: its leaf entries combine them with the PTE's). */
function mmu_role(vcpu: kvm_vcpu, pde: number): number {
  return ((vcpu.cr0 & X86_CR0_WP) !== 0 ? ROLE_WP : 0) | ((vcpu.cr4 & X86_CR4_PSE) !== 0 ? ROLE_PSE : 0) |
    ((pde & PT_WRITABLE_MASK) !== 0 ? ROLE_PDE_W : 0) | ((pde & PT_USER_MASK) !== 0 ? ROLE_PDE_U : 0) |
    (shadow_format(vcpu) === PT64 ? ROLE_PAE : 0);
}

/** The role of a transient table (a large page's, or paging off). */
const transient_role = (vcpu: kvm_vcpu): number => (shadow_format(vcpu) === PT64 ? ROLE_PAE : 0);

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
  const sp = alloc_shadow_page(vcpu, mc, level, (role & ROLE_PAE) !== 0);
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
 *  CPU's TLB is flushed at every VM entry, so no stale writable translation survives.)
 *  R/W is in the low dword of both formats. */
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
export function gfn_is_shadowed(kvm: kvm, gfn: number): boolean {
  for (const v of kvm.vcpus) if ((v?.mmu.cache?.by_gfn.get(gfn)?.size ?? 0) > 0) return true;
  return false;
}

/** kvm_mmu_unprotect_page: zap every shadow page derived from gfn, so that the guest may
 *  write it freely (a write the emulator could not do, or a write by a vcpu without paging). */
export function kvm_mmu_unprotect_page(kvm: kvm, gfn: number): void {
  cache_stat(kvm).pte_write++;
  for (const v of kvm.vcpus) {
    const set = v?.mmu.cache?.by_gfn.get(gfn);
    if (v === null || set === undefined) continue;
    for (const sp of [...set]) kvm_mmu_zap_page(v, sp);
  }
}

/** kvm_mmu_pte_write: the guest wrote `len` bytes at gpa (already in guest memory; the
 *  emulator did it, the frame being write-protected). The shadow entries derived from the
 *  guest entries written are dropped (the next fault rebuilds them from the new value),
 *  unless the guest has written this shadow page KVM_MMU_WRITE_FLOODING_THRESHOLD times
 *  with no fault using it in between: then it no longer uses the frame as a page table
 *  (detect_write_flooding) and the whole shadow page goes, which unprotects the frame once
 *  no other shadow page holds it. Caller holds kvm.lock. */
export function kvm_mmu_pte_write(kvm: kvm, gpa: gpa_t, len: number): void {
  const gfn = Math.floor(gpa / PAGE_SIZE);
  if (!gfn_is_shadowed(kvm, gfn)) return;
  cache_stat(kvm).pte_write++;
  const off = gpa % PAGE_SIZE;
  for (const v of kvm.vcpus) {
    const set = v?.mmu.cache?.by_gfn.get(gfn);
    if (v === null || set === undefined) continue;
    for (const sp of [...set]) {
      sp.write_flooding_count = (sp.write_flooding_count ?? 0) + 1;
      if (sp.write_flooding_count >= KVM_MMU_WRITE_FLOODING_THRESHOLD) {
        kvm_mmu_zap_page(v, sp);
        kvm.stat.mmu_flooded++;
        continue;
      }
      const size = sp_format(sp).ent_size;
      const last = Math.min(off + len - 1, PAGE_SIZE - 1);
      for (let i = Math.floor(off / size); i <= Math.floor(last / size); i++) mmu_zap_spte(v, sp, sp.kva + i * size);
    }
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

/** Clear one entry of shadow page sp (at its kernel address `at`): a leaf leaves the
 *  reverse map; a directory entry unlinks its child, and a transient child nothing else
 *  points at is freed. Entries' high dwords are always 0: clearing the low one is enough. */
function mmu_zap_spte(vcpu: kvm_vcpu, sp: kvm_mmu_page, at: number): void {
  const e = kread32(kva(at));
  if ((e & PT_PRESENT_MASK) === 0) return;
  kwrite32(kva(at), 0);
  const c = spc(vcpu);
  if (sp.level === 1) {
    rmap_remove(c, at);
    return;
  }
  const child = c.by_pfn.get(e >>> PAGE_SHIFT);
  if (child === undefined) return;
  child.parents?.delete(at);
  if (child.cached !== true && (child.parents?.size ?? 0) === 0 && child !== vcpu.mmu.root) kvm_mmu_zap_page(vcpu, child);
}

/** kvm_mmu_zap_page: unlink a shadow page from the entries that point at it (and its
 *  children from it), forget its leaf entries, and free it. A vcpu's current root (its
 *  GUEST_CR3, possibly in use on another CPU) is not freed but emptied and made
 *  transient: it refills by faults and goes at that vcpu's next CR3 load. */
function kvm_mmu_zap_page(vcpu: kvm_vcpu, sp: kvm_mmu_page): void {
  const c = spc(vcpu);
  const keep = vcpu.mmu.root === sp;
  const fmt = sp_format(sp);
  for (const at of sp.parents ?? []) kwrite32(kva(at), 0);
  sp.parents?.clear();
  for (let i = 0; i < fmt.ent_per_page; i++) {
    const at = sp.kva + i * fmt.ent_size;
    const e = kread32(kva(at));
    if ((e & PT_PRESENT_MASK) === 0) continue;
    if (sp.level > 1) c.by_pfn.get(e >>> PAGE_SHIFT)?.parents?.delete(at);
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
  /** A write to guest frame gfn, which holds a shadowed page table: emulate the
   *  instruction (its write then goes through kvm_mmu_pte_write); if it cannot be
   *  emulated, unprotect gfn and let the guest run it. */
  | { kind: "pt_write"; gfn: number }
  /** The guest's own page fault: reflect it with this error code. */
  | { kind: "guest_fault"; error_code: number };

const FIXED: FaultResult = { kind: "fixed" };
const RETRY: FaultResult = { kind: "retry", pin_gfn: null };

/** Make sure the vcpu has a shadow root; false if the cache is empty. Caller holds
 *  kvm.lock. With 32-bit guest paging the root shadows the guest's page directory (CR3)
 *  and comes from the cache, unless the faulting write targets that very frame
 *  (`write_gfn`). A PAE root is the vcpu's own PDPT, transient: its four entries come
 *  from the guest's PDPTRs, which the CPU loaded with CR3 and does not re-read. */
export function mmu_alloc_root(vcpu: kvm_vcpu, cache: mmu_memory_cache, write_gfn = -1): boolean {
  if (vcpu.mmu.root !== null) return true;
  const fmt = shadow_format(vcpu);
  let root: kvm_mmu_page | null;
  if (fmt.root_level === 3) {
    root = kvm_mmu_get_page(vcpu, cache, -1, 3, transient_role(vcpu), false);
  } else {
    const paging = (vcpu.cr0 & X86_CR0_PG) !== 0;
    const gfn = paging ? vcpu.cr3 >>> PAGE_SHIFT : -1;
    root = kvm_mmu_get_page(vcpu, cache, gfn, 2, mmu_role(vcpu, 0), paging && gfn !== write_gfn);
  }
  if (root === null) return false;
  vcpu.mmu.root = root;
  return true;
}

/** Which shadow table a guest mapping goes through at a level below the root: the guest
 *  table it shadows (gfn) and the guest entry above it whose bits its role records (the
 *  PDE for a page table; nothing for a PAE page directory: PDPTEs carry no rights), or
 *  null for a transient table (a large page's, or paging off). */
interface shadow_table_source {
  gfn: number;
  pde: number;
}

/** Install the shadow PTE for linear `addr` -> host frame `host_pfn` (guest frame `gfn`),
 *  creating the tables on the way: srcs[level] says what the table at `level` shadows.
 *  Every shadow page the walk goes through has just been used by a fault: its flooding
 *  count restarts. Caller holds kvm.lock; false if a shadow page was needed and the cache
 *  is empty. */
function shadow_set_pte(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: number, host_pfn: number, gfn: number, writable: boolean, user: boolean,
  srcs: readonly (shadow_table_source | null)[]): boolean {
  const write_gfn = writable ? gfn : -1;
  if (!mmu_alloc_root(vcpu, cache, write_gfn)) return false;
  const c = spc(vcpu);
  let sp = vcpu.mmu.root!;
  const fmt = sp_format(sp);
  sp.write_flooding_count = 0;
  for (let level = fmt.root_level; level > 1; level--) {
    const at = sp.kva + fmt.index(addr, level) * fmt.ent_size;
    const src = srcs[level - 1] ?? null;
    const gfn_want = src === null ? -1 : src.gfn;
    const role_want = src === null ? transient_role(vcpu) : mmu_role(vcpu, src.pde);
    const e = kread32(kva(at));
    let child: kvm_mmu_page | undefined = (e & PT_PRESENT_MASK) !== 0 ? shadow_page(vcpu, e >>> PAGE_SHIFT) : undefined;
    // An entry of a transient table may predate a change of the guest's: follow it only
    // to the table this walk needs.
    if (child !== undefined && (child.gfn !== gfn_want || child.role !== role_want)) {
      mmu_zap_spte(vcpu, sp, at);
      child = undefined;
    }
    if (child === undefined) {
      const pt = kvm_mmu_get_page(vcpu, cache, gfn_want, level - 1, role_want, src !== null && src.gfn !== write_gfn);
      if (pt === null) return false;
      // Directory entries grant everything; the leaf entries carry the permissions. A PAE
      // PDPTE has P only (its R/W and U/S positions are reserved).
      kwrite32(kva(at), ((pt.pfn << PAGE_SHIFT) | PT_PRESENT_MASK | (level === 3 ? 0 : PT_WRITABLE_MASK | PT_USER_MASK)) >>> 0);
      pt.parents!.add(at);
      child = pt;
    }
    child.write_flooding_count = 0;
    sp = child;
  }
  const at = sp.kva + fmt.index(addr, 1) * fmt.ent_size;
  const pte = (host_pfn << PAGE_SHIFT) | PT_PRESENT_MASK | (writable ? PT_WRITABLE_MASK : 0) | (user ? PT_USER_MASK : 0);
  kwrite32(kva(at), pte >>> 0);
  rmap_add(c, at, gfn);
  vcpu.kvm.stat.pf_fixed++;
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

/** A gfn of a KVM_MEM_READONLY slot: the guest reads it as memory; its writes are
 *  emulated and leave as KVM_EXIT_MMIO (never mapped writable). */
export function gfn_readonly(kvm: kvm, gfn: number): boolean {
  return ((gfn_to_memslot(kvm, gfn)?.flags ?? 0) & KVM_MEM_READONLY) !== 0;
}

/** Pages of a dirty-logged slot are mapped writable only by a write fault, which logs them. */
export function logging(kvm: kvm, gfn: number): boolean {
  return gfn_to_memslot(kvm, gfn)?.dirty_bitmap != null;
}

/** nonpaging_page_fault: guest paging is off, so the faulting linear address is the
 *  guest-physical address; map it 1:1 onto the host frame behind it. A write to a frame
 *  another vcpu shadows as a page table unprotects it. */
export async function nonpaging_page_fault(vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gpa_t, error_code: number): Promise<FaultResult> {
  const kvm = vcpu.kvm;
  const gfn = Math.floor(addr / PAGE_SIZE);
  const write = (error_code & PFERR_WRITE_MASK) !== 0;
  await spin_lock(kvm.lock);
  try {
    const backing = gfn_to_backing(kvm, gfn);
    if (backing === "mmio") return { kind: "mmio", gpa: addr };
    if (backing === "unpinned") return { kind: "retry", pin_gfn: gfn };
    const readonly = gfn_readonly(kvm, gfn);
    if (write && readonly) return { kind: "mmio", gpa: addr };
    let writable = (!logging(kvm, gfn) || write) && !readonly;
    if (writable && gfn_is_shadowed(kvm, gfn)) {
      if (write) kvm_mmu_unprotect_page(kvm, gfn);
      else writable = false;
    }
    if (!shadow_set_pte(vcpu, cache, addr, page_to_pfn(backing), gfn, writable, true, [])) return RETRY;
    if (write) mark_page_dirty(kvm, gfn);
    return FIXED;
  } finally {
    spin_unlock(kvm.lock);
  }
}

/** FNAME(page_fault): walk the guest's tables of format `fmt`; reflect the guest's own
 *  faults, set its A/D bits, and shadow the mapping (see paging_tmpl.ts for the rules). */
async function paging_page_fault(fmt: pt_format, vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gva_t, error_code: number): Promise<FaultResult> {
  const kvm = vcpu.kvm;
  const write = (error_code & PFERR_WRITE_MASK) !== 0;
  const user = (error_code & PFERR_USER_MASK) !== 0;
  await spin_lock(kvm.lock);
  try {
    const w = walk_addr(fmt, vcpu, addr, write, user);
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
    const gfn = Math.floor(w.gpa / PAGE_SIZE);
    const backing = gfn_to_backing(kvm, gfn);
    if (backing === "mmio") return { kind: "mmio", gpa: w.gpa };
    if (backing === "unpinned") return { kind: "retry", pin_gfn: gfn };
    // Writable in the shadow only once dirty (and, in a dirty-logged slot, only after
    // a write fault logged it); a CR0.WP=0 supervisor write to a read-only page is
    // writable but supervisor-only. A shadowed page table stays read-only: a write to it
    // is emulated (the walk's A/D bits are set first, as the CPU sets them before the access).
    const wp_override = write && !user && !w.writable;
    const readonly = gfn_readonly(kvm, gfn);
    if (write && readonly) {
      // The guest's own rights allowed the write (the walk succeeded): its A/D bits are
      // set, and the store goes to userspace as MMIO.
      for (const g of set_accessed_dirty(vcpu, w, write)) mark_page_dirty(kvm, g);
      return { kind: "mmio", gpa: w.gpa };
    }
    let writable = ((w.writable && (w.dirty || write)) || wp_override) && (write || !logging(kvm, gfn)) && !readonly;
    if (writable && gfn_is_shadowed(kvm, gfn)) {
      if (write) {
        for (const g of set_accessed_dirty(vcpu, w, write)) mark_page_dirty(kvm, g);
        return { kind: "pt_write", gfn };
      }
      writable = false;
    }
    const usr = w.user && !wp_override;
    // srcs[level]: the guest table the shadow table at `level` shadows.
    const srcs: (shadow_table_source | null)[] = [null, w.large ? null : { gfn: Math.floor(w.pte_gpa / PAGE_SIZE), pde: w.pde }];
    if (fmt.root_level === 3) srcs.push({ gfn: Math.floor(w.pde_gpa / PAGE_SIZE), pde: 0 });
    if (!shadow_set_pte(vcpu, cache, addr, page_to_pfn(backing), gfn, writable, usr, srcs)) return RETRY;
    for (const g of set_accessed_dirty(vcpu, w, write)) mark_page_dirty(kvm, g);
    if (write) mark_page_dirty(kvm, gfn);
    return FIXED;
  } finally {
    spin_unlock(kvm.lock);
  }
}

/** paging32_page_fault / paging64_page_fault: the two instantiations. */
export const paging32_page_fault = (vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gva_t, error_code: number): Promise<FaultResult> =>
  paging_page_fault(PT32, vcpu, cache, addr, error_code);
export const paging64_page_fault = (vcpu: kvm_vcpu, cache: mmu_memory_cache, addr: gva_t, error_code: number): Promise<FaultResult> =>
  paging_page_fault(PT64, vcpu, cache, addr, error_code);

/** INVLPG: drop the shadow entry for one linear address, or, if it lies in the shadow of
 *  a guest large page (a transient table), that whole table: INVLPG invalidates the
 *  translation of the whole large page. Caller holds kvm.lock. */
export function kvm_mmu_invlpg(vcpu: kvm_vcpu, addr: gva_t): void {
  vcpu.kvm.stat.invlpg++;
  const root = vcpu.mmu.root;
  if (root === null) return;
  const fmt = sp_format(root);
  let sp = root;
  let parent = root;
  let parent_at = 0;
  for (let level = fmt.root_level; level > 1; level--) {
    const at = sp.kva + fmt.index(addr, level) * fmt.ent_size;
    const e = kread32(kva(at));
    if ((e & PT_PRESENT_MASK) === 0) return;
    parent = sp;
    parent_at = at;
    sp = shadow_page(vcpu, e >>> PAGE_SHIFT);
  }
  // Unlinking a transient table from its last parent frees it.
  if (sp.cached !== true && sp.gfn === -1) mmu_zap_spte(vcpu, parent, parent_at);
  else mmu_zap_spte(vcpu, sp, sp.kva + fmt.index(addr, 1) * fmt.ent_size);
}

function shadow_page(vcpu: kvm_vcpu, pfn: number): kvm_mmu_page {
  const sp = vcpu.mmu.cache?.by_pfn.get(pfn);
  if (sp !== undefined) return sp;
  throw new Error(`kvm: shadow entry points at pfn 0x${pfn.toString(16)}, which is not a shadow page`);
}

/** Host-physical address of the shadow root, for GUEST_CR3. */
export function mmu_root_hpa(vcpu: kvm_vcpu): number {
  return vcpu.mmu.root === null ? 0 : vcpu.mmu.root.pfn << PAGE_SHIFT;
}

/** Drop every shadow page of a vcpu (context change, memslot change, destroy); a PAE
 *  guest's PDPTRs are loaded again (CR0/CR4 writes and KVM_SET_SREGS come here). The
 *  caller holds kvm.lock or owns the vcpu exclusively. */
export function kvm_mmu_reset_context(vcpu: kvm_vcpu): void {
  for (const sp of vcpu.mmu.pages) __free_page(sp.page);
  vcpu.mmu.pages = [];
  vcpu.mmu.root = null;
  vcpu.mmu.cache = undefined;
  vcpu.mmu.pdptrs = null;
  vcpu.kvm.stat.tlb_flush++;
}

/** A guest CR3 load with paging on: the cached shadow pages stay (the next entry finds
 *  the new root in the hash, or for PAE its page directories); the transient ones go,
 *  the PAE root among them, and the PDPTRs are loaded from the new CR3. Without the
 *  cache, or past KVM_MAX_MMU_PAGES, everything goes, as before the cache. Caller holds
 *  kvm.lock or owns the vcpu. */
export function kvm_mmu_new_cr3(vcpu: kvm_vcpu): void {
  if (!cache_enabled() || vcpu.mmu.pages.length > KVM_MAX_MMU_PAGES) {
    kvm_mmu_reset_context(vcpu);
    return;
  }
  vcpu.mmu.root = null;
  vcpu.mmu.pdptrs = null;
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
  if ((vcpu.cr0 & X86_CR0_PG) === 0) return { kind: "ok", gpa: addr as gpa_t };
  const w = kvm_mmu_walk_addr(vcpu, addr as gva_t, false, false);
  if (w.kind === "ok") return { kind: "ok", gpa: w.gpa };
  if (w.kind === "unpinned") return { kind: "unpinned", gfn: w.gfn };
  return { kind: "invalid" };
}

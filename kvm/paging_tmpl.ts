// drivers/kvm/paging_tmpl.h: the guest walker, written once and instantiated per guest
// PTE format, as the C file is compiled twice (PTTYPE 32 and PTTYPE 64). Here the
// "template parameter" is a pt_format object: PT32 (2-level 32-bit paging) or PT64 (PAE:
// three levels of 64-bit entries, the first of them the four PDPTRs). walk_addr,
// set_accessed_dirty and gva_to_gpa take it; paging32_* / paging64_* are the two
// instantiations, and the shadow MMU (mmu.ts) uses the same descriptors for its own tables.
//
// Guest formats (SDM Vol. 3A 4.3, 4.4):
//   32-bit: CR3[31:12] -> PD (1024 x 4 bytes, linear[31:22]) -> PT (linear[21:12]);
//           PDE.PS with CR4.PSE maps 4 MiB ([31:22] frame).
//   PAE:    CR3[31:5] -> 4 PDPTEs (linear[31:30]) -> PD (512 x 8 bytes, linear[29:21])
//           -> PT (linear[20:12]); PDE.PS maps 2 MiB ([31:21] frame) whatever CR4.PSE says.
//   PDE/PTE low bits: [0] P  [1] R/W  [2] U/S  [5] A  [6] D  [7] PS (PDE only).
//   A PAE PDPTE has only P (no R/W, U/S, A): the rights are the AND of the PDE and the PTE.
// The PDPTEs are loaded into the CPU's PDPTRs when CR3 is loaded (or CR0.PG/CR4.PAE
// change), not re-read at each walk: kvm keeps them in vcpu.mmu.pdptrs, read at the first
// walk after such a load (no guest instruction runs in between, so it is the same thing).
// DIVERGENCE: under EPT the model's CPU reads the PDPTEs at every walk (machine/x86/mmu.ts
// caches no PDPTRs), and kvm, which sees no CR3 load there, reads them the same way.
//
// What the walk does not model, because the machine model (and QEMU's pentium3, which the
// guests are compared with) does not have it:
// - entry bits 63:32 are ignored: the CPU has 32-bit physical addresses, and no XD/NX
//   (CPUID.80000001H:EDX.NX is not advertised, EFER.NXE does not exist);
// - reserved bits are not checked, so a walk never reports PFERR_RSVD (error code bit 3).
// DIVERGENCE: a real PAE CPU faults (#GP on the PDPTE load, #PF with RSVD otherwise) on
// reserved bits; this MMU and the CPU model it runs on do not.
//
// The shadow entries kvm builds from a walk (see mmu.ts) differ from the guest's in:
// - a page is mapped writable only once the guest's D bit is set: the first write to
//   a clean page faults, KVM sets D in the guest's PTE, then maps it writable;
// - A bits are set in the guest's entries as the walk uses them (on the fault that
//   installs the mapping), as the hardware walker would;
// - guest large pages (4 MiB, 2 MiB) are shadowed by 4 KiB entries;
// - with guest CR0.WP=0 a supervisor write to a read-only page is allowed (the guest
//   expects it): the page is mapped writable but supervisor-only, so a user access
//   faults again and is judged afresh.

import { X86_CR0_WP, X86_CR4_PAE, X86_CR4_PSE } from "../compat/linux/asm/processor.js";
import { kread32, kwrite32 } from "../compat/linux/kmem.js";
import { page_address } from "../compat/linux/mm.js";
import { PAGE_SIZE, kva, type gpa_t, type gva_t } from "../compat/linux/types.js";
import type { kvm, kvm_vcpu } from "./kvm_host.js";
import { gfn_to_backing } from "./mmu.js";

export const PT_PRESENT_MASK = 1 << 0;
export const PT_WRITABLE_MASK = 1 << 1;
export const PT_USER_MASK = 1 << 2;
export const PT_ACCESSED_MASK = 1 << 5;
export const PT_DIRTY_MASK = 1 << 6;
export const PT_PAGE_SIZE_MASK = 1 << 7;
/** Frame of a table or 4 KiB page (the low dword of a 64-bit entry: bits 63:32 are ignored). */
export const PT_BASE_ADDR_MASK = 0xfffff000;

// #PF error code bits.
export const PFERR_PRESENT_MASK = 1 << 0;
export const PFERR_WRITE_MASK = 1 << 1;
export const PFERR_USER_MASK = 1 << 2;

/** A paging-structure format (the PTTYPE of paging_tmpl.h), for guest and shadow tables. */
export interface pt_format {
  readonly name: "32" | "pae";
  /** Bytes per entry and entries per table page. */
  readonly ent_size: 4 | 8;
  readonly ent_per_page: 1024 | 512;
  /** Level of the table CR3 points at: 2 (the page directory) or 3 (the PDPT). */
  readonly root_level: 2 | 3;
  /** Index of `addr` in a table of `level` (1 = page table). */
  index(addr: number, level: number): number;
  /** Frame mask of a large page in a PDE, and whether PS is honoured at all. */
  readonly large_mask: number;
  large_pages(vcpu: kvm_vcpu): boolean;
}

/** PTTYPE 32: two levels of 4-byte entries; PSE pages when CR4.PSE=1. */
export const PT32: pt_format = {
  name: "32", ent_size: 4, ent_per_page: 1024, root_level: 2,
  index: (addr, level) => (level === 2 ? addr >>> 22 : (addr >>> 12) & 1023),
  large_mask: 0xffc00000,
  large_pages: (vcpu) => (vcpu.cr4 & X86_CR4_PSE) !== 0,
};

/** PTTYPE 64 with PT32E_ROOT_LEVEL: PAE, three levels of 8-byte entries; PS always honoured. */
export const PT64: pt_format = {
  name: "pae", ent_size: 8, ent_per_page: 512, root_level: 3,
  index: (addr, level) => (level === 3 ? addr >>> 30 : (addr >>> (12 + 9 * (level - 1))) & 511),
  large_mask: 0xffe00000,
  large_pages: () => true,
};

/** The guest's paging format while CR0.PG=1. */
export const guest_format = (vcpu: kvm_vcpu): pt_format => ((vcpu.cr4 & X86_CR4_PAE) !== 0 ? PT64 : PT32);

export type guest_walk =
  /** The guest's tables map the address: its gpa and the effective permissions.
   *  pte_gpa is the final entry (the PDE of a large page), pde_gpa the PDE; pde its value,
   *  pdpte the PDPTE used (PAE; 0 for 32-bit paging). */
  | {
    kind: "ok"; gpa: gpa_t; writable: boolean; user: boolean; dirty: boolean; pte_gpa: gpa_t; pde_gpa: gpa_t; pde: number; pdpte: number;
    large: boolean;
  }
  /** The guest's own page fault, with the error code the hardware would report. */
  | { kind: "fault"; error_code: number }
  /** A guest table page is not yet pinned (user memory): pin gfn and retry. */
  | { kind: "unpinned"; gfn: number }
  /** A guest table lies outside guest memory. */
  | { kind: "bad_table"; gpa: gpa_t };

type guest_word = { ok: true; value: number } | { ok: false; gfn: number; unpinned: boolean };

/** Load a 32-bit word of guest-physical memory through the memory slots. */
export function kvm_read_guest_u32(kvm: kvm, addr: gpa_t): guest_word {
  const gfn = Math.floor(addr / PAGE_SIZE);
  const p = gfn_to_backing(kvm, gfn);
  if (p === "mmio" || p === "unpinned") return { ok: false, gfn, unpinned: p === "unpinned" };
  return { ok: true, value: kread32(kva(page_address(p) + (addr % PAGE_SIZE))) };
}

/** Store into guest memory the walk has just read (so it is RAM and pinned). */
function kvm_write_guest_u32(kvm: kvm, addr: gpa_t, v: number): void {
  const p = gfn_to_backing(kvm, Math.floor(addr / PAGE_SIZE));
  if (p === "mmio" || p === "unpinned") throw new Error(`kvm: guest page-table write to gpa 0x${addr.toString(16)}, which is not pinned RAM`);
  kwrite32(kva(page_address(p) + (addr % PAGE_SIZE)), v >>> 0);
}

const pdpt_gpa = (vcpu: kvm_vcpu, i: number): gpa_t => (((vcpu.cr3 & 0xffffffe0) >>> 0) + i * 8) as gpa_t;

/** load_pdptrs: the four PDPTEs at CR3 into vcpu.mmu.pdptrs (low dwords). Caller holds kvm.lock. */
function load_pdptrs(vcpu: kvm_vcpu): guest_word {
  const v: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = kvm_read_guest_u32(vcpu.kvm, pdpt_gpa(vcpu, i));
    if (!r.ok) return r;
    v.push(r.value);
  }
  vcpu.mmu.pdptrs = v;
  return { ok: true, value: 0 };
}

/** PDPTR i of a PAE guest: the one loaded with CR3 (see the header). */
export function kvm_pdptr_read(vcpu: kvm_vcpu, i: number): guest_word {
  if (vcpu.kvm.tdp) return kvm_read_guest_u32(vcpu.kvm, pdpt_gpa(vcpu, i));
  if (vcpu.mmu.pdptrs === null) {
    const r = load_pdptrs(vcpu);
    if (!r.ok) return r;
  }
  return { ok: true, value: vcpu.mmu.pdptrs![i] };
}

/** FNAME(walk_addr): walk the guest's tables of format `fmt` for `addr` as an access of
 *  the given kind would, without changing guest memory. */
export function walk_addr(fmt: pt_format, vcpu: kvm_vcpu, addr: gva_t, write: boolean, user: boolean): guest_walk {
  const kvm = vcpu.kvm;
  const wp = (vcpu.cr0 & X86_CR0_WP) !== 0;
  const base_err = (write ? PFERR_WRITE_MASK : 0) | (user ? PFERR_USER_MASK : 0);
  const not_present: guest_walk = { kind: "fault", error_code: base_err };
  let table: number;
  let pdpte = 0;
  if (fmt.root_level === 3) {
    const r = kvm_pdptr_read(vcpu, fmt.index(addr, 3));
    if (!r.ok) return r.unpinned ? { kind: "unpinned", gfn: r.gfn } : { kind: "bad_table", gpa: pdpt_gpa(vcpu, fmt.index(addr, 3)) };
    if ((r.value & PT_PRESENT_MASK) === 0) return not_present;
    pdpte = r.value;
    table = (r.value & PT_BASE_ADDR_MASK) >>> 0;
  } else {
    table = (vcpu.cr3 & PT_BASE_ADDR_MASK) >>> 0;
  }
  // Protection (SDM 4.6): the rights are the AND over the PDE and the PTE.
  let allowed_write = true;
  let allowed_user = true;
  let pde_gpa = 0 as gpa_t;
  let pde = 0;
  for (let level = 2; ; level--) {
    const at = (table + fmt.index(addr, level) * fmt.ent_size) as gpa_t;
    const e = kvm_read_guest_u32(kvm, at);
    if (!e.ok) return e.unpinned ? { kind: "unpinned", gfn: e.gfn } : { kind: "bad_table", gpa: at };
    if ((e.value & PT_PRESENT_MASK) === 0) return not_present;
    allowed_write &&= (e.value & PT_WRITABLE_MASK) !== 0;
    allowed_user &&= (e.value & PT_USER_MASK) !== 0;
    let gpa: number | null = null;
    if (level === 2) {
      pde_gpa = at;
      pde = e.value;
      if (fmt.large_pages(vcpu) && (e.value & PT_PAGE_SIZE_MASK) !== 0) gpa = (e.value & fmt.large_mask) + (addr & ~fmt.large_mask);
    } else {
      gpa = (e.value & PT_BASE_ADDR_MASK) + (addr & 0xfff);
    }
    if (gpa === null) {
      table = (e.value & PT_BASE_ADDR_MASK) >>> 0;
      continue;
    }
    // User accesses need U/S everywhere; writes need R/W everywhere, except supervisor
    // writes when CR0.WP=0.
    if (user && !allowed_user) return { kind: "fault", error_code: base_err | PFERR_PRESENT_MASK };
    if (write && !allowed_write && (user || wp)) return { kind: "fault", error_code: base_err | PFERR_PRESENT_MASK };
    return {
      kind: "ok", gpa: (gpa >>> 0) as gpa_t, writable: allowed_write, user: allowed_user, dirty: (e.value & PT_DIRTY_MASK) !== 0,
      pte_gpa: at, pde_gpa, pde, pdpte, large: level === 2,
    };
  }
}

export const paging32_walk_addr = (vcpu: kvm_vcpu, addr: gva_t, write: boolean, user: boolean): guest_walk => walk_addr(PT32, vcpu, addr, write, user);
export const paging64_walk_addr = (vcpu: kvm_vcpu, addr: gva_t, write: boolean, user: boolean): guest_walk => walk_addr(PT64, vcpu, addr, write, user);

/** The walk for the guest's current paging mode (CR0.PG=1). */
export const kvm_mmu_walk_addr = (vcpu: kvm_vcpu, addr: gva_t, write: boolean, user: boolean): guest_walk =>
  walk_addr(guest_format(vcpu), vcpu, addr, write, user);

/** FNAME(set_accessed_dirty): set the accessed bits the walk used, and the dirty bit on a
 *  write, in guest memory (both formats keep them in the entry's low dword; a PAE PDPTE
 *  has none). The walk's entries are known to be readable: the walk succeeded. Returns
 *  the guest frames written, for dirty logging. */
export function set_accessed_dirty(vcpu: kvm_vcpu, w: Extract<guest_walk, { kind: "ok" }>, write: boolean): number[] {
  const kvm = vcpu.kvm;
  const written: number[] = [];
  const set = (at: gpa_t, bits: number) => {
    const r = kvm_read_guest_u32(kvm, at);
    if (r.ok && (r.value & bits) !== bits) {
      kvm_write_guest_u32(kvm, at, r.value | bits);
      written.push(Math.floor(at / PAGE_SIZE));
    }
  };
  set(w.pde_gpa, PT_ACCESSED_MASK);
  if (!w.large) set(w.pte_gpa, PT_ACCESSED_MASK);
  if (write) set(w.pte_gpa, PT_DIRTY_MASK);
  return written;
}

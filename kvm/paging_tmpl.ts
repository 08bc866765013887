// drivers/kvm/paging_tmpl.h, 32-bit guest paging: the guest walker and the shadow
// fault handler for a guest with CR0.PG=1 (seed 002: paging32_page_fault).
//
// Guest format (two levels, CR4.PSE allows 4 MiB pages in the directory):
//   PDE/PTE: [31:12] frame  [7] PS (PDE only)  [6] D  [5] A  [2] U/S  [1] R/W  [0] P
//   4 MiB PDE: [31:22] frame
// The shadow table, in host frames, maps the same linear addresses to the host frames
// behind the guest's frames, with the guest's permissions, except:
// - a page is mapped writable only once the guest's D bit is set: the first write to
//   a clean page faults, KVM sets D in the guest's PTE, then maps it writable;
// - A bits are set in the guest's entries as the walk uses them (on the fault that
//   installs the mapping), as the hardware walker would;
// - guest 4 MiB pages are shadowed by 4 KiB entries (the shadow has no PSE);
// - with guest CR0.WP=0 a supervisor write to a read-only page is allowed (the guest
//   expects it): the page is mapped writable but supervisor-only, so a user access
//   faults again and is judged afresh.
// Shadow entries are dropped on a CR3 load and on INVLPG (the TLB rules guests rely
// on), so a guest that edits its tables and flushes sees its edit.

import { X86_CR0_WP } from "../compat/linux/asm/processor.js";
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
const PT32_BASE_ADDR_MASK = 0xfffff000;
const PT32_DIR_BASE_ADDR_MASK = 0xffc00000;

// #PF error code bits.
export const PFERR_PRESENT_MASK = 1 << 0;
export const PFERR_WRITE_MASK = 1 << 1;
export const PFERR_USER_MASK = 1 << 2;

export type guest_walk =
  /** The guest's tables map the address: its gpa and the effective permissions. */
  | { kind: "ok"; gpa: gpa_t; writable: boolean; user: boolean; dirty: boolean; pte_gpa: gpa_t; pde_gpa: gpa_t; large: boolean }
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

/** paging32_walk_addr: walk the guest's tables for `addr` as an access of the given
 *  kind would, without changing anything. */
export function paging32_walk_addr(vcpu: kvm_vcpu, addr: gva_t, write: boolean, user: boolean): guest_walk {
  const kvm = vcpu.kvm;
  const pse = (vcpu.cr4 & (1 << 4)) !== 0;
  const wp = (vcpu.cr0 & X86_CR0_WP) !== 0;
  const base_err = (write ? PFERR_WRITE_MASK : 0) | (user ? PFERR_USER_MASK : 0);
  const pde_gpa = ((vcpu.cr3 & PT32_BASE_ADDR_MASK) + ((addr >>> 22) & 1023) * 4) as gpa_t;
  const pde = kvm_read_guest_u32(kvm, pde_gpa);
  if (!pde.ok) return pde.unpinned ? { kind: "unpinned", gfn: pde.gfn } : { kind: "bad_table", gpa: pde_gpa };
  if ((pde.value & PT_PRESENT_MASK) === 0) return { kind: "fault", error_code: base_err };
  let allowed_write = (pde.value & PT_WRITABLE_MASK) !== 0;
  let allowed_user = (pde.value & PT_USER_MASK) !== 0;
  let entry: number;
  let entry_gpa: gpa_t;
  let gpa: number;
  let large = false;
  if (pse && (pde.value & PT_PAGE_SIZE_MASK) !== 0) {
    large = true;
    entry = pde.value;
    entry_gpa = pde_gpa;
    gpa = (pde.value & PT32_DIR_BASE_ADDR_MASK) + (addr & ~PT32_DIR_BASE_ADDR_MASK);
  } else {
    const pte_gpa = ((pde.value & PT32_BASE_ADDR_MASK) + ((addr >>> 12) & 1023) * 4) as gpa_t;
    const pte = kvm_read_guest_u32(kvm, pte_gpa);
    if (!pte.ok) return pte.unpinned ? { kind: "unpinned", gfn: pte.gfn } : { kind: "bad_table", gpa: pte_gpa };
    if ((pte.value & PT_PRESENT_MASK) === 0) return { kind: "fault", error_code: base_err };
    allowed_write &&= (pte.value & PT_WRITABLE_MASK) !== 0;
    allowed_user &&= (pte.value & PT_USER_MASK) !== 0;
    entry = pte.value;
    entry_gpa = pte_gpa;
    gpa = (pte.value & PT32_BASE_ADDR_MASK) + (addr & 0xfff);
  }
  // Protection (SDM 4.6): user accesses need U/S everywhere; writes need R/W
  // everywhere, except supervisor writes when CR0.WP=0.
  if (user && !allowed_user) return { kind: "fault", error_code: base_err | PFERR_PRESENT_MASK };
  if (write && !allowed_write && (user || wp)) return { kind: "fault", error_code: base_err | PFERR_PRESENT_MASK };
  return {
    kind: "ok", gpa: (gpa >>> 0) as gpa_t, writable: allowed_write, user: allowed_user,
    dirty: (entry & PT_DIRTY_MASK) !== 0, pte_gpa: entry_gpa, pde_gpa, large,
  };
}

/** Set the accessed bits the walk used, and the dirty bit on a write, in guest memory
 *  (the walk's entries are known to be readable: the walk succeeded). Returns the
 *  guest frames written, for dirty logging. */
export function paging32_set_accessed_dirty(vcpu: kvm_vcpu, w: Extract<guest_walk, { kind: "ok" }>, write: boolean): number[] {
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

/** paging32_gva_to_gpa (KVM_TRANSLATE): the guest-physical address, or null. */
export function paging32_gva_to_gpa(vcpu: kvm_vcpu, addr: gva_t): gpa_t | null {
  const w = paging32_walk_addr(vcpu, addr, false, false);
  return w.kind === "ok" ? w.gpa : null;
}

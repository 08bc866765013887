// Two-dimensional paging (arch/x86/kvm/mmu.c's tdp_page_fault, 2008, for Intel EPT): the
// seed's other plan, "wait until AMD and Intel release processors with nested page
// tables". The guest runs its own page tables (CR0/CR3/CR4 are its own under
// "unrestricted guest"), and kvm maps only guest-physical to host-physical, in EPT
// tables the CPU walks for every guest-physical access. Entries are filled lazily, on
// EPT-violation exits; guest page faults, CR3 switches and INVLPG no longer exit.
//
// EPT format (SDM 28.2.2), 4 levels of 512 8-byte entries, one host frame each:
//   gpa  [47:39] PML4  [38:30] PDPT  [29:21] PD  [20:12] PT  [11:0] offset
//   non-leaf entry: next table [51:12], R|W|X [2:0] all set (rights are the AND of all levels)
//   leaf (PTE):     host frame [51:12], ignore-PAT [6], memory type WB (6) [5:3], R [0] W [1] X [2]
// EPTP: PML4 address [51:12], walk length - 1 = 3 [5:3], memory type WB (6) [2:0].
//
// The tables are the vcpu's kvm_mmu (root = the PML4 page, pages = every table page), so
// kvm_mmu_reset_context / kvm_mmu_zap_all (memslot changes, dirty-log re-arm, vcpu
// teardown) drop them exactly as they drop shadow pages.
//
// Dirty logging: in a slot with KVM_MEM_LOG_DIRTY_PAGES a page is mapped without W until
// a write violation, which marks it dirty and maps it writable; KVM_GET_DIRTY_LOG re-arms
// by zapping. A write by the CPU's own page walk (setting A/D bits in a guest page table
// in a logged slot) arrives the same way and is logged the same way.
//
// Locking: kvm.lock (a spinlock) is held while entries are written; nothing under it
// sleeps, so table pages come from the per-vcpu cache topped up while the vcpu is put,
// and user memory is pinned (mmu_pin_gfn) before the fault is retried.

import { page_to_pfn } from "../compat/linux/gfp.js";
import { kread32, kwrite32 } from "../compat/linux/kmem.js";
import { __va, page_address } from "../compat/linux/mm.js";
import { rdmsrl_safe } from "../compat/linux/asm/msr.js";
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, EPT_VIOLATION_ACC_WRITE, MSR_IA32_VMX_EPT_VPID_CAP, MSR_IA32_VMX_PROCBASED_CTLS,
  MSR_IA32_VMX_PROCBASED_CTLS2, SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_UNRESTRICTED_GUEST, VMX_EPT_EXECUTABLE_MASK,
  VMX_EPT_IPAT_BIT, VMX_EPT_MT_EPTE_SHIFT, VMX_EPT_PAGE_WALK_4_BIT, VMX_EPT_READABLE_MASK, VMX_EPT_RWX_MASK,
  VMX_EPT_WRITABLE_MASK, VMX_EPTP_MT_WB, VMX_EPTP_PWL_4, VMX_EPTP_WB_BIT,
} from "../compat/linux/asm/vmx.js";
import { spin_lock, spin_unlock } from "../compat/linux/spinlock.js";
import { PAGE_SHIFT, PAGE_SIZE, hpa, kva, type Kva, type gpa_t } from "../compat/linux/types.js";
import type { kvm_mmu_page, kvm_vcpu } from "./kvm_host.js";
import { gfn_to_backing, kvm_mmu_reset_context, logging, mark_page_dirty, type FaultResult, type mmu_memory_cache, gfn_readonly } from "./mmu.js";

const EPT_ENT_PER_PAGE = 512;
const PT64_LEVEL_BITS = 9;
/** A leaf maps RAM: write-back, guest PAT ignored. */
const VMX_EPT_DEFAULT_MT = (VMX_EPTP_MT_WB << VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT;

const FIXED: FaultResult = { kind: "fixed" };
const RETRY: FaultResult = { kind: "retry", pin_gfn: null };

/** cpu_has_vmx_ept: secondary controls, "enable EPT", 4-level walks with WB tables. */
export function cpu_has_vmx_ept(): boolean {
  const proc = rdmsrl_safe(MSR_IA32_VMX_PROCBASED_CTLS);
  if (proc.err !== 0 || ((proc.val >> 32n) & BigInt(CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)) === 0n) return false;
  const proc2 = rdmsrl_safe(MSR_IA32_VMX_PROCBASED_CTLS2);
  if (proc2.err !== 0 || ((proc2.val >> 32n) & BigInt(SECONDARY_EXEC_ENABLE_EPT)) === 0n) return false;
  const cap = rdmsrl_safe(MSR_IA32_VMX_EPT_VPID_CAP);
  const need = BigInt(VMX_EPT_PAGE_WALK_4_BIT | VMX_EPTP_WB_BIT);
  return cap.err === 0 && (cap.val & need) === need;
}

/** cpu_has_vmx_unrestricted_guest: real mode and unpaged protected mode run directly. */
export function cpu_has_vmx_unrestricted_guest(): boolean {
  const proc2 = rdmsrl_safe(MSR_IA32_VMX_PROCBASED_CTLS2);
  return proc2.err === 0 && ((proc2.val >> 32n) & BigInt(SECONDARY_EXEC_UNRESTRICTED_GUEST)) !== 0n;
}

/** The secondary execution controls a VM with two-dimensional paging runs with. */
export const TDP_SECONDARY_EXEC_CONTROL = SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_UNRESTRICTED_GUEST;

function alloc_tdp_page(vcpu: kvm_vcpu, cache: mmu_memory_cache, level: number): kvm_mmu_page | null {
  const p = cache.pages.pop();
  if (p === undefined) return null;
  const sp: kvm_mmu_page = { page: p, kva: page_address(p), pfn: page_to_pfn(p), level };
  vcpu.mmu.pages.push(sp);
  return sp;
}

/** Make sure the vcpu has an EPT PML4; false if the cache is empty. Caller holds kvm.lock. */
export function tdp_alloc_root(vcpu: kvm_vcpu, cache: mmu_memory_cache): boolean {
  if (vcpu.mmu.root !== null) return true;
  const root = alloc_tdp_page(vcpu, cache, 4);
  if (root === null) return false;
  vcpu.mmu.root = root;
  return true;
}

/** Host-physical address of the EPT PML4 (0 before the first tdp_alloc_root). */
export function tdp_root_hpa(vcpu: kvm_vcpu): number {
  return vcpu.mmu.root === null ? 0 : vcpu.mmu.root.pfn << PAGE_SHIFT;
}

/** construct_eptp: the EPT_POINTER value for a PML4 at `root_hpa`. */
export function construct_eptp(root_hpa: number): number {
  return (root_hpa | VMX_EPTP_PWL_4 | VMX_EPTP_MT_WB) >>> 0;
}

/** The table an entry points to, allocating it if the entry is not present. */
function tdp_next_table(vcpu: kvm_vcpu, cache: mmu_memory_cache, at: Kva, level: number): Kva | null {
  const e = kread32(at);
  if ((e & VMX_EPT_RWX_MASK) !== 0) return __va(hpa(e & ~0xfff));
  const sp = alloc_tdp_page(vcpu, cache, level);
  if (sp === null) return null;
  // Bits 63:32 of the entry stay 0: host frames lie below 4 GiB.
  kwrite32(at, ((sp.pfn << PAGE_SHIFT) | VMX_EPT_RWX_MASK) >>> 0);
  return sp.kva;
}

const index_of = (gpa: number, level: number) =>
  Math.floor(gpa / 2 ** (PAGE_SHIFT + (level - 1) * PT64_LEVEL_BITS)) % EPT_ENT_PER_PAGE;

/** Install the leaf gfn -> host_pfn with `rwx`. Caller holds kvm.lock; false if a table
 *  page was needed and the cache is empty (what was built stays linked in for the retry). */
function tdp_set_spte(vcpu: kvm_vcpu, cache: mmu_memory_cache, gpa: number, host_pfn: number, rwx: number): boolean {
  if (!tdp_alloc_root(vcpu, cache)) return false;
  let table: Kva = vcpu.mmu.root!.kva;
  for (let level = 4; level > 1; level--) {
    const next = tdp_next_table(vcpu, cache, kva(table + index_of(gpa, level) * 8), level - 1);
    if (next === null) return false;
    table = next;
  }
  kwrite32(kva(table + index_of(gpa, 1) * 8), ((host_pfn << PAGE_SHIFT) | VMX_EPT_DEFAULT_MT | rwx) >>> 0);
  return true;
}

/** tdp_page_fault: an EPT violation at guest-physical `gpa` with the exit qualification
 *  of SDM Table 28-7. Maps the page behind it (read/execute, and write unless the slot
 *  logs dirty pages and this was not a write), reports MMIO for a gpa outside every
 *  slot, or asks for the page to be pinned first. */
export async function tdp_page_fault(vcpu: kvm_vcpu, cache: mmu_memory_cache, gpa: gpa_t, qualification: number): Promise<FaultResult> {
  const kvm = vcpu.kvm;
  const gfn = Math.floor(gpa / PAGE_SIZE);
  const write = (qualification & EPT_VIOLATION_ACC_WRITE) !== 0;
  await spin_lock(kvm.lock);
  try {
    const backing = gfn_to_backing(kvm, gfn);
    if (backing === "mmio") return { kind: "mmio", gpa };
    if (backing === "unpinned") return { kind: "retry", pin_gfn: gfn };
    // A write to a read-only slot is emulated and exits as MMIO; its pages map without W.
    const readonly = gfn_readonly(kvm, gfn);
    if (write && readonly) return { kind: "mmio", gpa };
    const writable = (write || !logging(kvm, gfn)) && !readonly;
    const rwx = VMX_EPT_READABLE_MASK | VMX_EPT_EXECUTABLE_MASK | (writable ? VMX_EPT_WRITABLE_MASK : 0);
    if (!tdp_set_spte(vcpu, cache, gfn * PAGE_SIZE, page_to_pfn(backing), rwx)) return RETRY;
    if (write) mark_page_dirty(kvm, gfn);
    kvm.stat.pf_fixed++;
    return FIXED;
  } finally {
    spin_unlock(kvm.lock);
  }
}

/** kvm_tdp_reset: drop a vcpu's EPT tables; the next entry starts from an empty PML4 and
 *  every page faults in again. Caller holds kvm.lock or owns the vcpu exclusively. */
export function kvm_tdp_reset(vcpu: kvm_vcpu): void {
  kvm_mmu_reset_context(vcpu);
}

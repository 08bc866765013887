// drivers/kvm/vmx.c: the Intel VT-x backend (seed 002), behind the kvm_x86_ops facade.
//
// Hardware rules:
// - VMXON runs on every CPU at module load (hardware_enable via on_each_cpu) with
//   CR4.VMXE set and a VMXON region per CPU.
// - A VMCS is current on one CPU. vcpu_load takes get_cpu() and keeps it until
//   vcpu_put, so the thread cannot leave the CPU whose VMCS cache holds its VMCS;
//   when the vcpu comes back on another CPU, the VMCS is VMCLEARed on the old CPU
//   first (by IPI: __vcpu_clear) and the next entry is a VMLAUNCH again.
// - Interrupts are off across VM entry; after the exit they are enabled, which is
//   when the host takes the timer interrupt that caused an external-interrupt exit.
// - Anything that may sleep (allocating shadow pages, pinning guest pages,
//   rescheduling) happens with the vcpu put (kvm_resched), never while loaded.

import { cpuid } from "../compat/linux/asm/processor.js";
import { X86_CR0_NE, X86_CR0_PE, X86_CR0_PG, X86_CR0_TS, X86_CR0_WP, X86_CR4_PAE, X86_CR4_PGE, X86_CR4_PSE, X86_CR4_VMXE, cr4_clear_bits, cr4_set_bits } from "../compat/linux/asm/processor.js";
import { rdmsrl } from "../compat/linux/asm/msr.js";
import { DR6_ACTIVE_LOW, DR6_BD, DR7_FIXED_1, DR7_GD, DR7_VOLATILE, get_debugreg, set_debugreg } from "../compat/linux/asm/debugreg.js";
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_HLT_EXITING, CPU_BASED_INVDPG_EXITING,
  CPU_BASED_MOV_DR_EXITING, EXIT_REASON_DR_ACCESS, EXIT_REASON_EPT_MISCONFIG, EXIT_REASON_EPT_VIOLATION, INTR_INFO_INTR_TYPE_MASK, INTR_TYPE_PRIV_SW_EXCEPTION, INTR_TYPE_SOFT_EXCEPTION, INTR_TYPE_SOFT_INTR,
  vmcs_write64, CPU_BASED_UNCOND_IO_EXITING, CPU_BASED_VIRTUAL_INTR_PENDING, EXIT_REASON_CPUID, EXIT_REASON_MSR_READ,
  EXIT_REASON_MSR_WRITE, EXIT_REASON_PENDING_INTERRUPT, INTR_TYPE_EXT_INTR, EXIT_REASON_CR_ACCESS, EXIT_REASON_EXCEPTION_NMI,
  EXIT_REASON_EXTERNAL_INTERRUPT, EXIT_REASON_HLT, EXIT_REASON_INVLPG, EXIT_REASON_IO_INSTRUCTION, EXIT_REASON_TRIPLE_FAULT,
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_VALID_MASK, INTR_TYPE_HARD_EXCEPTION,
  INTR_INFO_VECTOR_MASK, MSR_IA32_VMX_BASIC, PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING, VMCS,
  VMX_EXIT_REASONS_FAILED_VMENTRY, __vmx_vcpu_run, __vmxoff, __vmxon, vmcs_clear, vmcs_load, vmcs_read32,
  vmcs_readl, vmcs_write16, vmcs_write32, vmcs_writel,
} from "../compat/linux/asm/vmx.js";
import { EINTR, EIO, ENOMEM } from "../compat/linux/errno.js";
import { __GFP_ZERO, GFP_KERNEL, __free_page, alloc_page, page_to_pfn } from "../compat/linux/gfp.js";
import { local_irq_disable, local_irq_enable } from "../compat/linux/irqflags.js";
import { kread, kwrite, kwrite32 } from "../compat/linux/kmem.js";
import { page_address } from "../compat/linux/mm.js";
import type { page } from "../compat/linux/mm_types.js";
import { kvm_globals } from "./kvm_globals.js";
import { pr_err } from "../compat/linux/printk.js";
import { cond_resched, get_current, irqentry_exit_cond_resched, need_resched, signal_pending } from "../compat/linux/sched.js";
import { get_cpu, num_online_cpus, on_each_cpu, put_cpu, smp_call_function_single, smp_processor_id } from "../compat/linux/smp.js";
import { PAGE_SHIFT, gpa, gva, kva, type Kva } from "../compat/linux/types.js";
import { spin_lock, spin_unlock } from "../compat/linux/spinlock.js";
import {
  KVM_EXIT_DEBUG, KVM_EXIT_EXCEPTION, KVM_EXIT_FAIL_ENTRY, KVM_EXIT_HLT, KVM_EXIT_IRQ_WINDOW_OPEN,
  KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP, KVM_GUESTDBG_USE_HW_BP, KVM_GUESTDBG_USE_SW_BP, kvm_debug_exit_arch_layout,
  KVM_EXIT_INTR, KVM_EXIT_SHUTDOWN, KVM_EXIT_UNKNOWN, kvm_run_header_layout, type kvm_segment, type kvm_sregs,
} from "../include/uapi/linux/kvm.js";
import { encode, u64 } from "../include/uapi/struct_layout.js";
import type { kvm_vcpu } from "./kvm_host.js";
import { vmx_get_msr, vmx_set_msr } from "./x86_msr.js";
import { complete_mmio, emulate_instruction, type emulation_outcome } from "./emulate.js";
import { complete_pio, kvm_handle_io } from "./pio.js";
import { kvm_internal_error, set_exit_reason, set_exit_union } from "./kvm_run.js";
import {
  kvm_mmu_invlpg, kvm_mmu_new_cr3, kvm_mmu_reset_context, mmu_alloc_root, mmu_pin_gfn, mmu_root_hpa, mmu_topup_memory_caches,
  kvm_mmu_unprotect_page, nonpaging_page_fault, paging32_page_fault, paging64_page_fault, type FaultResult, type mmu_memory_cache,
} from "./mmu.js";
import { TDP_SECONDARY_EXEC_CONTROL, construct_eptp, tdp_alloc_root, tdp_page_fault, tdp_root_hpa } from "./mmu_tdp.js";

const VCPU_REGS_RAX = 0, VCPU_REGS_RCX = 1, VCPU_REGS_RDX = 2;

/** Guest CR0 bits the host owns: writes exit, reads see the read shadow. */
const KVM_GUEST_CR0_MASK = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP | X86_CR0_NE;
/** Guest CR4 bits the host owns: the shadow page table's format and VMX itself. The CPU
 *  runs with CR4.PAE exactly when the guest pages with PAE: the shadow tables are then
 *  in the PAE format (mmu.ts). */
const KVM_GUEST_CR4_MASK = X86_CR4_VMXE | X86_CR4_PAE | X86_CR4_PSE | X86_CR4_PGE;
/** What the CPU always runs a guest with: the shadow table in force, and WP so that
 *  supervisor writes to pages the shadow maps read-only (clean pages) fault too. */
const KVM_VM_CR0_ALWAYS_ON = X86_CR0_PG | X86_CR0_NE | X86_CR0_WP;
const KVM_VM_CR4_ALWAYS_ON = X86_CR4_VMXE;

const vmx_globals = kvm_globals;

/** Per-vcpu state of the VMX backend that kvm_host.h's kvm_vcpu does not carry. */
interface vcpu_vmx {
  mmu_cache: mmu_memory_cache;
  /** A guest page to pin before re-entering (set when a fault found it unpinned). */
  pin_gfn: number | null;
  /** A fault could not be fixed without sleeping: top up and pin, then re-enter. */
  need_topup: boolean;
  /** The last exit ended a time slice: reschedule before the next entry. */
  slice_over: boolean;
}
const vmx_of = new WeakMap<kvm_vcpu, vcpu_vmx>();
export function to_vmx(vcpu: kvm_vcpu): vcpu_vmx {
  let v = vmx_of.get(vcpu);
  if (v === undefined) {
    v = { mmu_cache: { pages: [] }, pin_gfn: null, need_topup: false, slice_over: false };
    vmx_of.set(vcpu, v);
  }
  return v;
}

// --- module-wide setup ---------------------------------------------------------------

function vmcs_revision_id(): number {
  return Number(rdmsrl(MSR_IA32_VMX_BASIC) & 0x7fffffffn);
}

/** alloc_vmcs: a zeroed page with the revision identifier (also used for VMXON regions). */
export async function alloc_vmcs(): Promise<page | null> {
  const p = await alloc_page(GFP_KERNEL | __GFP_ZERO);
  if (p === null) return null;
  kwrite32(page_address(p), vmcs_revision_id());
  return p;
}

/** hardware_setup + hardware_enable on every CPU. 0 or -errno. */
export async function vmx_hardware_enable_all(): Promise<number> {
  const g = vmx_globals();
  const n = num_online_cpus();
  for (let cpu = 0; cpu < n; cpu++) {
    const p = await alloc_vmcs();
    if (p === null) {
      vmx_free_vmxareas();
      return -ENOMEM;
    }
    g.vmxarea[cpu] = p;
    g.current_vmcs[cpu] = null;
  }
  let failed = false;
  await on_each_cpu(() => {
    const cpu = smp_processor_id();
    cr4_set_bits(X86_CR4_VMXE);
    const st = __vmxon(page_to_pfn(g.vmxarea[cpu]!) << PAGE_SHIFT as never);
    if (!st.ok) failed = true;
  }, null, true);
  if (failed) {
    pr_err("kvm: vmxon failed on some CPU");
    await vmx_hardware_disable_all();
    return -EIO;
  }
  return 0;
}

export async function vmx_hardware_disable_all(): Promise<void> {
  const g = vmx_globals();
  await on_each_cpu(() => {
    const cpu = smp_processor_id();
    if (g.vmxarea[cpu] != null) __vmxoff();
    g.current_vmcs[cpu] = null;
    cr4_clear_bits(X86_CR4_VMXE);
  }, null, true);
  vmx_free_vmxareas();
}

function vmx_free_vmxareas(): void {
  const g = vmx_globals();
  for (let i = 0; i < g.vmxarea.length; i++) {
    const p = g.vmxarea[i];
    if (p != null) __free_page(p);
    g.vmxarea[i] = null;
  }
}

// --- vcpu load / put --------------------------------------------------------------------

const vmcs_hpa = (vcpu: kvm_vcpu) => (page_to_pfn(vcpu.vmcs_page) << PAGE_SHIFT) as never;

/** __vcpu_clear: runs by IPI on the CPU whose cache holds the VMCS. */
function __vcpu_clear(info: unknown): void {
  const vcpu = info as kvm_vcpu;
  const cpu = smp_processor_id();
  const g = vmx_globals();
  if (vcpu.cpu === cpu) vmcs_clear(vmcs_hpa(vcpu));
  if (g.current_vmcs[cpu] === vmcs_hpa(vcpu)) g.current_vmcs[cpu] = null;
}

/** vmx_vcpu_load: pin to this CPU (get_cpu) and make the vcpu's VMCS current here. */
export async function vmx_vcpu_load(vcpu: kvm_vcpu): Promise<void> {
  const cpu = get_cpu();
  const g = vmx_globals();
  if (vcpu.cpu !== cpu) {
    if (vcpu.cpu >= 0) await smp_call_function_single(vcpu.cpu, __vcpu_clear, vcpu, true);
    vcpu.launched = false;
  }
  const phys = vmcs_hpa(vcpu);
  if (g.current_vmcs[cpu] !== phys) {
    g.current_vmcs[cpu] = phys;
    vmcs_load(phys);
  }
  vcpu.cpu = cpu;
}

/** After a preemption point inside the loaded region: if the thread is still on the CPU
 *  that holds its VMCS (get_cpu pinned it) but another vcpu made its own VMCS current
 *  there meanwhile, make ours current again, as kvm_sched_in does through preempt
 *  notifiers (2.6.23). A thread that moved to another CPU (a get_cpu that does not pin:
 *  the 2007 snapshot) is left to fail as it did. */
function vmx_vcpu_sched_in(vcpu: kvm_vcpu): void {
  const cpu = smp_processor_id();
  if (cpu !== vcpu.cpu) return;
  const g = vmx_globals();
  const phys = vmcs_hpa(vcpu);
  if (g.current_vmcs[cpu] !== phys) {
    g.current_vmcs[cpu] = phys;
    vmcs_load(phys);
  }
}

export function vmx_vcpu_put(_vcpu: kvm_vcpu): void {
  put_cpu();
}

/** Drop the VMCS from whatever CPU holds it (vcpu teardown). */
export async function vmx_vcpu_decache(vcpu: kvm_vcpu): Promise<void> {
  if (vcpu.cpu >= 0) await smp_call_function_single(vcpu.cpu, __vcpu_clear, vcpu, true);
  vcpu.cpu = -1;
  vcpu.launched = false;
}

// --- guest state -------------------------------------------------------------------------

type seg_fields = readonly [sel: number, base: number, limit: number, ar: number];
const SEG: Record<"es" | "cs" | "ss" | "ds" | "fs" | "gs" | "ldt" | "tr", seg_fields> = {
  es: [VMCS.GUEST_ES_SELECTOR, VMCS.GUEST_ES_BASE, VMCS.GUEST_ES_LIMIT, VMCS.GUEST_ES_AR_BYTES],
  cs: [VMCS.GUEST_CS_SELECTOR, VMCS.GUEST_CS_BASE, VMCS.GUEST_CS_LIMIT, VMCS.GUEST_CS_AR_BYTES],
  ss: [VMCS.GUEST_SS_SELECTOR, VMCS.GUEST_SS_BASE, VMCS.GUEST_SS_LIMIT, VMCS.GUEST_SS_AR_BYTES],
  ds: [VMCS.GUEST_DS_SELECTOR, VMCS.GUEST_DS_BASE, VMCS.GUEST_DS_LIMIT, VMCS.GUEST_DS_AR_BYTES],
  fs: [VMCS.GUEST_FS_SELECTOR, VMCS.GUEST_FS_BASE, VMCS.GUEST_FS_LIMIT, VMCS.GUEST_FS_AR_BYTES],
  gs: [VMCS.GUEST_GS_SELECTOR, VMCS.GUEST_GS_BASE, VMCS.GUEST_GS_LIMIT, VMCS.GUEST_GS_AR_BYTES],
  ldt: [VMCS.GUEST_LDTR_SELECTOR, VMCS.GUEST_LDTR_BASE, VMCS.GUEST_LDTR_LIMIT, VMCS.GUEST_LDTR_AR_BYTES],
  tr: [VMCS.GUEST_TR_SELECTOR, VMCS.GUEST_TR_BASE, VMCS.GUEST_TR_LIMIT, VMCS.GUEST_TR_AR_BYTES],
};

// VMX access-rights format: type[3:0] S[4] DPL[6:5] P[7] AVL[12] L[13] D/B[14] G[15] unusable[16].
function vmx_segment_access_rights(s: kvm_segment): number {
  if (s.unusable) return 1 << 16;
  return (s.type & 15) | ((s.s & 1) << 4) | ((s.dpl & 3) << 5) | ((s.present & 1) << 7) | ((s.avl & 1) << 12) | ((s.l & 1) << 13) | ((s.db & 1) << 14) | ((s.g & 1) << 15);
}

function vmx_get_segment(f: seg_fields): kvm_segment {
  const ar = vmcs_read32(f[3]);
  return {
    base: BigInt(vmcs_readl(f[1]) >>> 0), limit: vmcs_read32(f[2]), selector: vmcs_readl(f[0]) & 0xffff,
    type: ar & 15, s: (ar >> 4) & 1, dpl: (ar >> 5) & 3, present: (ar >> 7) & 1, avl: (ar >> 12) & 1,
    l: (ar >> 13) & 1, db: (ar >> 14) & 1, g: (ar >> 15) & 1, unusable: (ar >> 16) & 1, padding: 0,
  };
}

function vmx_set_segment(f: seg_fields, s: kvm_segment): void {
  vmcs_write16(f[0], s.selector);
  vmcs_writel(f[1], Number(s.base & 0xffffffffn));
  vmcs_write32(f[2], s.limit);
  vmcs_write32(f[3], vmx_segment_access_rights(s));
}

/** The CR0/CR4 the CPU runs with for a given guest-visible value. Under two-dimensional
 *  paging with "unrestricted guest" they are the guest's own, with only what VMX
 *  operation fixes to 1 (CR0.NE by IA32_VMX_CR0_FIXED0, CR4.VMXE by IA32_VMX_CR4_FIXED0):
 *  paging is the guest's, and the EPT maps guest-physical to host-physical. */
function hw_cr0(vcpu: kvm_vcpu, guest_cr0: number): number {
  if (vcpu.kvm.tdp) return (guest_cr0 | X86_CR0_NE) >>> 0;
  return ((guest_cr0 & ~KVM_GUEST_CR0_MASK) | (guest_cr0 & X86_CR0_PE) | KVM_VM_CR0_ALWAYS_ON) >>> 0;
}
function hw_cr4(vcpu: kvm_vcpu, guest_cr4: number): number {
  if (vcpu.kvm.tdp) return (guest_cr4 | KVM_VM_CR4_ALWAYS_ON) >>> 0;
  const pae_paging = (vcpu.cr0 & X86_CR0_PG) !== 0 && (guest_cr4 & X86_CR4_PAE) !== 0;
  return ((guest_cr4 & ~KVM_GUEST_CR4_MASK) | KVM_VM_CR4_ALWAYS_ON | (pae_paging ? X86_CR4_PAE : 0)) >>> 0;
}

export function vmx_set_cr0(vcpu: kvm_vcpu, cr0: number): void {
  vcpu.cr0 = cr0 >>> 0;
  vmcs_writel(VMCS.CR0_READ_SHADOW, vcpu.cr0);
  vmcs_writel(VMCS.GUEST_CR0, hw_cr0(vcpu, vcpu.cr0));
  // CR0.PG decides the shadow format, hence the CPU's CR4.PAE.
  vmcs_writel(VMCS.GUEST_CR4, hw_cr4(vcpu, vcpu.cr4));
}
export function vmx_set_cr4(vcpu: kvm_vcpu, cr4: number): void {
  vcpu.cr4 = cr4 >>> 0;
  vmcs_writel(VMCS.CR4_READ_SHADOW, vcpu.cr4);
  vmcs_writel(VMCS.GUEST_CR4, hw_cr4(vcpu, vcpu.cr4));
}

/** vmx_vcpu_setup: controls and the architectural reset state (SDM 9.1.1), with the vcpu loaded. */
export function vmx_vcpu_setup(vcpu: kvm_vcpu): void {
  vmcs_writel(VMCS.VMCS_LINK_POINTER, 0xffffffff);
  vmcs_writel(VMCS.VMCS_LINK_POINTER + 1, 0xffffffff);
  vmcs_write32(VMCS.PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING);
  // Shadow paging intercepts CR3 loads and stores, INVLPG and #PF (so the shadow MMU can
  // fill its tables); two-dimensional paging intercepts none of them: the guest's paging
  // is its own, and EPT violations fill the EPT (EPT_POINTER is written at each entry).
  const tdp = vcpu.kvm.tdp;
  vmcs_write32(
    VMCS.CPU_BASED_VM_EXEC_CONTROL,
    CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING |
      (tdp ? CPU_BASED_ACTIVATE_SECONDARY_CONTROLS : CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING | CPU_BASED_INVDPG_EXITING),
  );
  if (tdp) vmcs_write32(VMCS.SECONDARY_VM_EXEC_CONTROL, TDP_SECONDARY_EXEC_CONTROL);
  vmcs_write32(VMCS.EXCEPTION_BITMAP, tdp ? 0 : 1 << 14);
  vmcs_write32(VMCS.PAGE_FAULT_ERROR_CODE_MASK, 0);
  vmcs_write32(VMCS.PAGE_FAULT_ERROR_CODE_MATCH, 0);
  vmcs_write32(VMCS.CR3_TARGET_COUNT, 0);
  vmcs_write32(VMCS.VM_ENTRY_INTR_INFO_FIELD, 0);
  vmcs_writel(VMCS.CR0_GUEST_HOST_MASK, KVM_GUEST_CR0_MASK);
  vmcs_writel(VMCS.CR4_GUEST_HOST_MASK, KVM_GUEST_CR4_MASK);
  const seg = (selector: number, base: number, ar: number): kvm_segment => ({
    base: BigInt(base), limit: 0xffff, selector, type: ar & 15, s: (ar >> 4) & 1, dpl: 0, present: 1,
    avl: 0, l: 0, db: 0, g: 0, unusable: 0, padding: 0,
  });
  vmx_set_segment(SEG.cs, seg(0xf000, 0xffff0000, 0x9b));
  for (const s of ["ds", "es", "fs", "gs", "ss"] as const) vmx_set_segment(SEG[s], seg(0, 0, 0x93));
  vmx_set_segment(SEG.ldt, { ...seg(0, 0, 0x82), s: 0 });
  vmx_set_segment(SEG.tr, { ...seg(0, 0, 0x8b), s: 0 });
  vmcs_writel(VMCS.GUEST_GDTR_BASE, 0);
  vmcs_write32(VMCS.GUEST_GDTR_LIMIT, 0xffff);
  vmcs_writel(VMCS.GUEST_IDTR_BASE, 0);
  vmcs_write32(VMCS.GUEST_IDTR_LIMIT, 0xffff);
  vmcs_writel(VMCS.GUEST_RIP, 0xfff0);
  vmcs_writel(VMCS.GUEST_RSP, 0);
  vmcs_writel(VMCS.GUEST_RFLAGS, 0x2);
  vmcs_writel(VMCS.GUEST_DR7, 0x400);
  vmcs_write32(VMCS.GUEST_INTERRUPTIBILITY_INFO, 0);
  vmcs_write32(VMCS.GUEST_ACTIVITY_STATE, 0);
  vmx_set_cr0(vcpu, 0x60000010); // CD | NW | ET
  vmx_set_cr4(vcpu, 0);
  vcpu.cr3 = 0;
  vcpu.regs.fill(0);
  // EDX holds the processor signature after reset.
  vcpu.regs[VCPU_REGS_RDX] = cpuid(1).eax;
}

export interface vcpu_regs_snapshot {
  gpr: Uint32Array;
  rip: number;
  rsp: number;
  rflags: number;
}

export function vmx_get_regs(vcpu: kvm_vcpu): vcpu_regs_snapshot {
  return { gpr: vcpu.regs.slice(), rip: vmcs_readl(VMCS.GUEST_RIP), rsp: vmcs_readl(VMCS.GUEST_RSP), rflags: vmcs_readl(VMCS.GUEST_RFLAGS) };
}

export function vmx_set_regs(vcpu: kvm_vcpu, r: vcpu_regs_snapshot): void {
  vcpu.regs.set(r.gpr);
  vmcs_writel(VMCS.GUEST_RIP, r.rip >>> 0);
  vmcs_writel(VMCS.GUEST_RSP, r.rsp >>> 0);
  // RFLAGS bit 1 is reserved as 1; KVM forces it.
  vmcs_writel(VMCS.GUEST_RFLAGS, (r.rflags | 2) >>> 0);
}

export function vmx_get_sregs(vcpu: kvm_vcpu): kvm_sregs {
  return {
    cs: vmx_get_segment(SEG.cs), ds: vmx_get_segment(SEG.ds), es: vmx_get_segment(SEG.es),
    fs: vmx_get_segment(SEG.fs), gs: vmx_get_segment(SEG.gs), ss: vmx_get_segment(SEG.ss),
    tr: vmx_get_segment(SEG.tr), ldt: vmx_get_segment(SEG.ldt),
    gdt: { base: BigInt(vmcs_readl(VMCS.GUEST_GDTR_BASE) >>> 0), limit: vmcs_read32(VMCS.GUEST_GDTR_LIMIT) & 0xffff, padding: new Uint8Array(6) },
    idt: { base: BigInt(vmcs_readl(VMCS.GUEST_IDTR_BASE) >>> 0), limit: vmcs_read32(VMCS.GUEST_IDTR_LIMIT) & 0xffff, padding: new Uint8Array(6) },
    cr0: BigInt(vcpu.cr0), cr2: BigInt(vcpu.cr2 >>> 0), cr3: BigInt(vcpu.cr3 >>> 0), cr4: BigInt(vcpu.cr4), cr8: 0n,
    efer: vcpu.efer, apic_base: vcpu.apic_base,
    interrupt_bitmap: [0, 1, 2, 3].map((i) => BigInt(vcpu.irq_pending[2 * i]) | (BigInt(vcpu.irq_pending[2 * i + 1]) << 32n)),
  };
}

export function vmx_set_sregs(vcpu: kvm_vcpu, s: kvm_sregs): void {
  vmx_set_segment(SEG.cs, s.cs);
  vmx_set_segment(SEG.ds, s.ds);
  vmx_set_segment(SEG.es, s.es);
  vmx_set_segment(SEG.fs, s.fs);
  vmx_set_segment(SEG.gs, s.gs);
  vmx_set_segment(SEG.ss, s.ss);
  vmx_set_segment(SEG.tr, s.tr);
  vmx_set_segment(SEG.ldt, s.ldt);
  vmcs_writel(VMCS.GUEST_GDTR_BASE, Number(s.gdt.base & 0xffffffffn));
  vmcs_write32(VMCS.GUEST_GDTR_LIMIT, s.gdt.limit);
  vmcs_writel(VMCS.GUEST_IDTR_BASE, Number(s.idt.base & 0xffffffffn));
  vmcs_write32(VMCS.GUEST_IDTR_LIMIT, s.idt.limit);
  vcpu.cr2 = Number(s.cr2 & 0xffffffffn);
  vcpu.cr3 = Number(s.cr3 & 0xffffffffn);
  vcpu.efer = s.efer;
  vcpu.apic_base = s.apic_base;
  for (let i = 0; i < 4; i++) {
    vcpu.irq_pending[2 * i] = Number(s.interrupt_bitmap[i] & 0xffffffffn);
    vcpu.irq_pending[2 * i + 1] = Number((s.interrupt_bitmap[i] >> 32n) & 0xffffffffn);
  }
  vmx_set_cr0(vcpu, Number(s.cr0 & 0xffffffffn));
  vmx_set_cr4(vcpu, Number(s.cr4 & 0xffffffffn));
  kvm_mmu_reset_context(vcpu);
}

// --- interrupts (KVM_INTERRUPT) and guest debugging -------------------------------------

const X86_EFLAGS_TF = 1 << 8;
const X86_EFLAGS_RF = 1 << 16;
const GUEST_INTR_STATE_STI = 1, GUEST_INTR_STATE_MOV_SS = 2;

export function kvm_queue_interrupt(vcpu: kvm_vcpu, irq: number): void {
  vcpu.irq_pending[irq >>> 5] |= 1 << (irq & 31);
}

function irq_pending_any(vcpu: kvm_vcpu): boolean {
  return vcpu.irq_pending.some((w) => w !== 0);
}

/** The lowest pending vector, cleared (kvm_pop_irq). */
function kvm_pop_irq(vcpu: kvm_vcpu): number {
  for (let w = 0; w < 8; w++) {
    const bits = vcpu.irq_pending[w];
    if (bits === 0) continue;
    const b = 31 - Math.clz32(bits & -bits);
    vcpu.irq_pending[w] &= ~(1 << b);
    return w * 32 + b;
  }
  return -1;
}

/** The guest can take an external interrupt now: IF set, no STI/MOV SS shadow. */
function guest_interruptible(): boolean {
  return (vmcs_readl(VMCS.GUEST_RFLAGS) & (1 << 9)) !== 0 &&
    (vmcs_read32(VMCS.GUEST_INTERRUPTIBILITY_INFO) & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) === 0;
}

/** do_interrupt_requests: inject the next queued interrupt if the guest can take it,
 *  otherwise ask for an exit as soon as it can (interrupt-window exiting). */
function do_interrupt_requests(vcpu: kvm_vcpu, request_window: boolean): void {
  const entry_busy = (vmcs_read32(VMCS.VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID_MASK) !== 0;
  const can = guest_interruptible();
  if (!entry_busy && can && irq_pending_any(vcpu)) {
    const irq = kvm_pop_irq(vcpu);
    vmcs_write32(VMCS.VM_ENTRY_INTR_INFO_FIELD, (irq | INTR_TYPE_EXT_INTR | INTR_INFO_VALID_MASK) >>> 0);
  }
  // Interrupts blocked: wait for the guest to unblock them.
  const ctl = vmcs_read32(VMCS.CPU_BASED_VM_EXEC_CONTROL);
  const want_window = !can && (irq_pending_any(vcpu) || request_window);
  vmcs_write32(VMCS.CPU_BASED_VM_EXEC_CONTROL, want_window ? ctl | CPU_BASED_VIRTUAL_INTR_PENDING : ctl & ~CPU_BASED_VIRTUAL_INTR_PENDING);
}

/** KVM_SET_GUEST_DEBUG: which exceptions exit to userspace (#DB for single-step and
 *  hardware breakpoints, #BP for software breakpoints). #PF always exits under the shadow
 *  MMU, never under two-dimensional paging. While the debugger owns DR0-DR3 and DR7
 *  (USE_HW_BP), MOV DR exits too, so that the guest's accesses reach its own values
 *  (handle_dr); otherwise the guest uses the debug registers directly and kvm switches
 *  them around each entry (kvm_load_guest_debugregs, kvm_save_guest_debugregs), as
 *  Linux does once it has dropped MOV-DR exiting (KVM_DEBUGREG_WONT_EXIT).
 *  DIVERGENCE: Linux starts with MOV-DR exiting on and drops it at the first access. */
export function vmx_update_exception_bitmap(vcpu: kvm_vcpu): void {
  let eb = vcpu.kvm.tdp ? 0 : 1 << 14;
  if (vcpu.guest_debug & KVM_GUESTDBG_ENABLE) {
    if (vcpu.guest_debug & (KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_HW_BP)) eb |= 1 << 1;
    if (vcpu.guest_debug & KVM_GUESTDBG_USE_SW_BP) eb |= 1 << 3;
  }
  vmcs_write32(VMCS.EXCEPTION_BITMAP, eb);
  const ctl = vmcs_read32(VMCS.CPU_BASED_VM_EXEC_CONTROL);
  vmcs_write32(VMCS.CPU_BASED_VM_EXEC_CONTROL, hw_bp(vcpu) ? ctl | CPU_BASED_MOV_DR_EXITING : ctl & ~CPU_BASED_MOV_DR_EXITING);
}

const hw_bp = (vcpu: kvm_vcpu): boolean => (vcpu.guest_debug & KVM_GUESTDBG_USE_HW_BP) !== 0;

/** kvm_update_dr7: the DR7 the guest runs with is the debugger's under USE_HW_BP, else its own. */
export function kvm_update_dr7(vcpu: kvm_vcpu): void {
  vmcs_writel(VMCS.GUEST_DR7, hw_bp(vcpu) ? vcpu.guest_debug_dr7 : vcpu.dr7);
}

/** Before VM entry (vcpu_enter_guest): DR0-DR3 the guest runs with and, when the guest
 *  owns them, its DR6. DR7 comes from GUEST_DR7 at entry. */
function kvm_load_guest_debugregs(vcpu: kvm_vcpu): void {
  const db = hw_bp(vcpu) ? vcpu.eff_db : vcpu.db;
  for (let i = 0; i < 4; i++) set_debugreg(db[i], i);
  if (!hw_bp(vcpu)) set_debugreg(vcpu.dr6, 6);
}

/** After VM exit (sync_dirty_debug_regs): the guest wrote its debug registers without
 *  exiting, so read them back; the exit left DR7 at 400H for the host. */
function kvm_save_guest_debugregs(vcpu: kvm_vcpu): void {
  if (hw_bp(vcpu)) return;
  for (let i = 0; i < 4; i++) vcpu.eff_db[i] = vcpu.db[i] = get_debugreg(i);
  vcpu.dr6 = get_debugreg(6);
  vcpu.dr7 = vmcs_readl(VMCS.GUEST_DR7) >>> 0;
}

/** handle_dr: MOV to/from DRn while the debugger owns the debug registers. Exit
 *  qualification: DR number [2:0], direction [4] (1 = MOV from DR), register [11:8]. The
 *  CPU has already checked CPL 0 and CR4.DE (#GP, #UD come before the exit); general detect
 *  comes after it, so kvm reports it: with the debugger's DR7.GD, a KVM_EXIT_DEBUG with BD. */
function handle_dr(vcpu: kvm_vcpu): number {
  const q = vmcs_readl(VMCS.EXIT_QUALIFICATION);
  const dr = q & 7, reg = (q >>> 8) & 15;
  const dr7 = vmcs_readl(VMCS.GUEST_DR7);
  if ((dr7 & DR7_GD) !== 0) return debug_exit(vcpu, 1, DR6_BD | DR6_ACTIVE_LOW);
  if ((q & 0x10) !== 0) {
    // kvm_get_dr: DR4/DR5 alias DR6/DR7 (CR4.DE=0, or the CPU would have raised #UD).
    const v = dr < 4 ? vcpu.db[dr] : (dr & 1) === 0 ? vcpu.dr6 : vcpu.dr7;
    if (reg === 4) vmcs_writel(VMCS.GUEST_RSP, v);
    else vcpu.regs[reg] = v >>> 0;
  } else {
    // kvm_set_dr
    const v = (reg === 4 ? vmcs_readl(VMCS.GUEST_RSP) : vcpu.regs[reg]) >>> 0;
    if (dr < 4) vcpu.db[dr] = v;
    else if ((dr & 1) === 0) vcpu.dr6 = (v | DR6_ACTIVE_LOW) >>> 0;
    else {
      vcpu.dr7 = ((v & DR7_VOLATILE) | DR7_FIXED_1) >>> 0;
      kvm_update_dr7(vcpu);
    }
  }
  skip_emulated_instruction();
  return 1;
}

/** KVM_EXIT_DEBUG with the exception, the linear pc, DR6 and DR7, as Linux reports them. */
function debug_exit(vcpu: kvm_vcpu, exception: number, dr6: number): number {
  const pc = (vmcs_readl(VMCS.GUEST_CS_BASE) + vmcs_readl(VMCS.GUEST_RIP)) >>> 0;
  set_exit_reason(vcpu.run, KVM_EXIT_DEBUG);
  set_exit_union(vcpu.run, encode(kvm_debug_exit_arch_layout, {
    exception, pad: 0, pc: BigInt(pc), dr6: BigInt(dr6 >>> 0), dr7: BigInt(vmcs_readl(VMCS.GUEST_DR7) >>> 0),
  }));
  return 0;
}

// --- the run loop ---------------------------------------------------------------------

function skip_emulated_instruction(): void {
  const len = vmcs_read32(VMCS.VM_EXIT_INSTRUCTION_LEN);
  vmcs_writel(VMCS.GUEST_RIP, (vmcs_readl(VMCS.GUEST_RIP) + len) >>> 0);
}

/** KVM_RUN. Returns 0 with kvm_run describing the exit, or -errno. */
export async function vmx_vcpu_run(vcpu: kvm_vcpu): Promise<number> {
  const vmx = to_vmx(vcpu);
  const run = vcpu.run;
  let r = await mmu_topup_memory_caches(vmx.mmu_cache);
  if (r < 0) return r;
  await vmx_vcpu_load(vcpu);
  complete_pio(vcpu);
  // An MMIO exit is completed first: the instruction may need more round trips.
  const completion = complete_mmio(vcpu);
  if (completion !== null && handle_emulation(vcpu, vmx, completion) === 0) {
    post_kvm_run_save(vcpu);
    vmx_vcpu_put(vcpu);
    return 0;
  }
  for (;;) {
    if (kread(kva(run + kvm_run_header_layout.offsetOf("immediate_exit")!), 1)[0] !== 0 || signal_pending(get_current())) {
      set_exit_reason(run, KVM_EXIT_INTR);
      vcpu.kvm.stat.signal_exits++;
      r = -EINTR;
      break;
    }
    await spin_lock(vcpu.kvm.lock);
    const have_root = vcpu.kvm.tdp ? tdp_alloc_root(vcpu, vmx.mmu_cache) : mmu_alloc_root(vcpu, vmx.mmu_cache);
    spin_unlock(vcpu.kvm.lock);
    if (!have_root) {
      r = await kvm_resched(vcpu, vmx);
      if (r < 0) break;
      continue;
    }
    const request_window = kread(kva(run + kvm_run_header_layout.offsetOf("request_interrupt_window")!), 1)[0] !== 0;
    if (request_window && !irq_pending_any(vcpu) && guest_interruptible()) {
      // dm_request_for_irq_injection: userspace may inject now.
      set_exit_reason(run, KVM_EXIT_IRQ_WINDOW_OPEN);
      vcpu.kvm.stat.request_irq_exits++;
      r = 0;
      break;
    }
    do_interrupt_requests(vcpu, request_window);
    const singlestep = (vcpu.guest_debug & (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)) === (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP);
    if (singlestep) vmcs_writel(VMCS.GUEST_RFLAGS, vmcs_readl(VMCS.GUEST_RFLAGS) | X86_EFLAGS_TF);
    if (vcpu.kvm.tdp) {
      // The guest's own CR3; the EPT root in EPT_POINTER (vmx_load_mmu_pgd).
      vmcs_writel(VMCS.GUEST_CR3, vcpu.cr3);
      vmcs_write64(VMCS.EPT_POINTER, BigInt(construct_eptp(tdp_root_hpa(vcpu))));
    } else {
      vmcs_writel(VMCS.GUEST_CR3, mmu_root_hpa(vcpu));
    }
    local_irq_disable();
    kvm_load_guest_debugregs(vcpu);
    const soft = { gpr: vcpu.regs, cr2: vcpu.cr2 };
    const st = __vmx_vcpu_run(vcpu.launched, soft);
    vcpu.cr2 = soft.cr2;
    if (st.ok) kvm_save_guest_debugregs(vcpu);
    local_irq_enable();
    // The host interrupt that ended the guest's time slice returns here: a preemption
    // point, closed while get_cpu() holds preemption off (Linux) or pins the thread
    // (sched_pin); with a get_cpu() that does neither (the 2007 snapshot) the thread may
    // resume on another CPU and read a VMCS that is current somewhere else.
    await irqentry_exit_cond_resched();
    vmx_vcpu_sched_in(vcpu);
    if (singlestep && st.ok) vmcs_writel(VMCS.GUEST_RFLAGS, vmcs_readl(VMCS.GUEST_RFLAGS) & ~X86_EFLAGS_TF);
    if (!st.ok) {
      set_exit_reason(run, KVM_EXIT_FAIL_ENTRY);
      set_exit_union(run, encode(u64(), BigInt(st.invalid ? 0xffffffff : st.error)));
      r = 0;
      break;
    }
    vcpu.launched = true;
    // Without CR3 exiting the guest's CR3 changes in the VMCS only.
    if (vcpu.kvm.tdp) vcpu.cr3 = vmcs_readl(VMCS.GUEST_CR3) >>> 0;
    vmx_complete_interrupts();
    r = await vmx_handle_exit(vcpu, vmx);
    if (r <= 0) break;
    if (vmx.need_topup || vmx.slice_over || need_resched()) {
      vmx.slice_over = false;
      r = await kvm_resched(vcpu, vmx);
      if (r < 0) break;
    }
  }
  post_kvm_run_save(vcpu);
  vmx_vcpu_put(vcpu);
  return r;
}

/** vmx_complete_interrupts: an exit that interrupted the delivery of an event (IDT-vectoring
 *  information valid) must not lose it: it is injected again at the next entry, with its
 *  error code, and for software interrupts and exceptions the instruction length. */
function vmx_complete_interrupts(): void {
  const idt = vmcs_read32(VMCS.IDT_VECTORING_INFO_FIELD);
  if ((idt & INTR_INFO_VALID_MASK) === 0) return;
  // Bit 12 (NMI unblocking by IRET) is not part of the VM-entry format.
  vmcs_write32(VMCS.VM_ENTRY_INTR_INFO_FIELD, (idt & ~0x1000) >>> 0);
  if ((idt & INTR_INFO_DELIVER_CODE_MASK) !== 0) vmcs_write32(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read32(VMCS.IDT_VECTORING_ERROR_CODE));
  const type = idt & INTR_INFO_INTR_TYPE_MASK;
  if (type === INTR_TYPE_SOFT_INTR || type === INTR_TYPE_SOFT_EXCEPTION || type === INTR_TYPE_PRIV_SW_EXCEPTION)
    vmcs_write32(VMCS.VM_ENTRY_INSTRUCTION_LEN, vmcs_read32(VMCS.VM_EXIT_INSTRUCTION_LEN));
}

/** A fault needs a guest page pinned (or shadow pages allocated) first, which may sleep:
 *  note it, re-enter, and let the loop's kvm_resched do it with the vcpu put. */
function request_pin(vmx: vcpu_vmx, gfn: number | null): number {
  vmx.pin_gfn = gfn;
  vmx.need_topup = true;
  return 1;
}

/** kvm_resched: put the vcpu, do what may sleep, load it again (maybe on another CPU). */
async function kvm_resched(vcpu: kvm_vcpu, vmx: vcpu_vmx): Promise<number> {
  vmx_vcpu_put(vcpu);
  await cond_resched();
  let r = await mmu_topup_memory_caches(vmx.mmu_cache);
  if (r === 0 && vmx.pin_gfn !== null) r = await mmu_pin_gfn(vcpu.kvm, vmx.pin_gfn);
  vmx.pin_gfn = null;
  vmx.need_topup = false;
  await vmx_vcpu_load(vcpu);
  return r;
}

function post_kvm_run_save(vcpu: kvm_vcpu): void {
  const run = vcpu.run;
  const if_flag = (vmcs_readl(VMCS.GUEST_RFLAGS) >>> 9) & 1;
  const ready = !irq_pending_any(vcpu) && guest_interruptible() ? 1 : 0;
  kwrite(kva(run + kvm_run_header_layout.offsetOf("ready_for_interrupt_injection")!), new Uint8Array([ready, if_flag]));
  kwrite(kva(run + kvm_run_header_layout.offsetOf("apic_base")!), encode(u64(), vcpu.apic_base));
}

/** The exit handler: one switch on the basic exit reason. 1 = handled, re-enter the
 *  guest; 0 = return to userspace with kvm_run filled in; < 0 = error. */
async function vmx_handle_exit(vcpu: kvm_vcpu, vmx: vcpu_vmx): Promise<number> {
  const run = vcpu.run;
  const stat = vcpu.kvm.stat;
  const exit_reason = vmcs_read32(VMCS.VM_EXIT_REASON);
  stat.exits++;
  if ((exit_reason & VMX_EXIT_REASONS_FAILED_VMENTRY) !== 0) {
    set_exit_reason(run, KVM_EXIT_FAIL_ENTRY);
    set_exit_union(run, encode(u64(), BigInt(exit_reason & 0xffff)));
    return 0;
  }
  switch (exit_reason) {
    case EXIT_REASON_EXCEPTION_NMI: {
      const intr_info = vmcs_read32(VMCS.VM_EXIT_INTR_INFO);
      const vector = intr_info & INTR_INFO_VECTOR_MASK;
      if (vector === 14) {
        const addr = vmcs_readl(VMCS.EXIT_QUALIFICATION);
        const error_code = vmcs_read32(VMCS.VM_EXIT_INTR_ERROR_CODE);
        let r: FaultResult;
        if ((vcpu.cr0 & X86_CR0_PG) === 0) r = await nonpaging_page_fault(vcpu, vmx.mmu_cache, gpa(addr), error_code);
        else if ((vcpu.cr4 & X86_CR4_PAE) !== 0) r = await paging64_page_fault(vcpu, vmx.mmu_cache, gva(addr), error_code);
        else r = await paging32_page_fault(vcpu, vmx.mmu_cache, gva(addr), error_code);
        switch (r.kind) {
          case "fixed":
            return 1;
          case "retry":
            return request_pin(vmx, r.pin_gfn);
          case "guest_fault":
            kvm_inject_page_fault(vcpu, addr, r.error_code);
            return 1;
          case "mmio":
            return handle_emulation(vcpu, vmx, emulate_instruction(vcpu));
          case "pt_write":
            return handle_pt_write(vcpu, vmx, r.gfn);
        }
      }
      // The #DB exit qualification holds B0-B3, BD and BS; userspace sees them in DR6's
      // layout with the reserved bits set (DR6_ACTIVE_LOW), and the DR7 in force.
      if (vector === 1 && (vcpu.guest_debug & KVM_GUESTDBG_ENABLE)) return debug_exit(vcpu, 1, vmcs_readl(VMCS.EXIT_QUALIFICATION) | DR6_ACTIVE_LOW);
      if (vector === 3 && (vcpu.guest_debug & KVM_GUESTDBG_USE_SW_BP)) return debug_exit(vcpu, 3, DR6_ACTIVE_LOW);
      run_exception(run, vector, vmcs_read32(VMCS.VM_EXIT_INTR_ERROR_CODE));
      return 0;
    }
    case EXIT_REASON_EXTERNAL_INTERRUPT:
      // The end of a time slice: the host takes its interrupt (at local_irq_enable) and
      // the loop reschedules before re-entering (kvm_resched).
      stat.irq_exits++;
      vmx.slice_over = true;
      return 1;
    case EXIT_REASON_TRIPLE_FAULT:
      set_exit_reason(run, KVM_EXIT_SHUTDOWN);
      return 0;
    case EXIT_REASON_IO_INSTRUCTION:
      return handle_io(vcpu, vmx);
    case EXIT_REASON_HLT:
      skip_emulated_instruction();
      // A queued interrupt will wake the guest at once (handle_halt).
      if (irq_pending_any(vcpu) && (vmcs_readl(VMCS.GUEST_RFLAGS) & (1 << 9)) !== 0) return 1;
      stat.halt_exits++;
      set_exit_reason(run, KVM_EXIT_HLT);
      return 0;
    case EXIT_REASON_PENDING_INTERRUPT:
      // The window opened: do_interrupt_requests injects, or userspace is told.
      stat.irq_window_exits++;
      vmcs_write32(VMCS.CPU_BASED_VM_EXEC_CONTROL, vmcs_read32(VMCS.CPU_BASED_VM_EXEC_CONTROL) & ~CPU_BASED_VIRTUAL_INTR_PENDING);
      if (!irq_pending_any(vcpu) && kread(kva(run + kvm_run_header_layout.offsetOf("request_interrupt_window")!), 1)[0] !== 0) {
        set_exit_reason(run, KVM_EXIT_IRQ_WINDOW_OPEN);
        return 0;
      }
      return 1;
    case EXIT_REASON_MSR_READ: {
      const v = vmx_get_msr(vcpu, vcpu.regs[VCPU_REGS_RCX]);
      if (v === null) {
        kvm_inject_gp(vcpu);
        return 1;
      }
      vcpu.regs[VCPU_REGS_RAX] = Number(v & 0xffffffffn);
      vcpu.regs[VCPU_REGS_RDX] = Number((v >> 32n) & 0xffffffffn);
      skip_emulated_instruction();
      return 1;
    }
    case EXIT_REASON_MSR_WRITE: {
      const v = (BigInt(vcpu.regs[VCPU_REGS_RDX]) << 32n) | BigInt(vcpu.regs[VCPU_REGS_RAX]);
      if (!vmx_set_msr(vcpu, vcpu.regs[VCPU_REGS_RCX], v)) {
        kvm_inject_gp(vcpu);
        return 1;
      }
      skip_emulated_instruction();
      return 1;
    }
    case EXIT_REASON_CPUID: {
      const leaf = vcpu.regs[VCPU_REGS_RAX];
      const c = cpuid(leaf, vcpu.regs[VCPU_REGS_RCX]);
      // The guest runs without VMX of its own.
      const ecx = leaf === 1 ? c.ecx & ~(1 << 5) : c.ecx;
      vcpu.regs[0] = c.eax >>> 0;
      vcpu.regs[3] = c.ebx >>> 0;
      vcpu.regs[1] = ecx >>> 0;
      vcpu.regs[2] = c.edx >>> 0;
      skip_emulated_instruction();
      return 1;
    }
    case EXIT_REASON_CR_ACCESS:
      return handle_cr(vcpu);
    case EXIT_REASON_DR_ACCESS:
      return handle_dr(vcpu);
    case EXIT_REASON_EPT_VIOLATION:
      return handle_ept_violation(vcpu, vmx);
    case EXIT_REASON_EPT_MISCONFIG:
      // kvm never writes an entry the CPU would find misconfigured.
      return kvm_internal_error(run, `EPT misconfiguration at gpa 0x${vmcs_read32(VMCS.GUEST_PHYSICAL_ADDRESS).toString(16)}`);
    case EXIT_REASON_INVLPG:
      if ((vcpu.cr0 & X86_CR0_PG) !== 0) {
        await spin_lock(vcpu.kvm.lock);
        kvm_mmu_invlpg(vcpu, gva(vmcs_readl(VMCS.EXIT_QUALIFICATION)));
        spin_unlock(vcpu.kvm.lock);
      }
      skip_emulated_instruction();
      return 1;
    default: {
      // kvm_run->hw.hardware_exit_reason
      set_exit_reason(run, KVM_EXIT_UNKNOWN);
      set_exit_union(run, encode(u64(), BigInt(exit_reason)));
      return 0;
    }
  }
}

/** A write to a shadowed guest page table: emulate it (kvm_mmu_pte_write sees the store).
 *  An instruction the emulator cannot do is not an error here: the frame is unprotected
 *  and the guest runs the instruction itself (kvm_mmu_unprotect_page_virt in Linux). */
async function handle_pt_write(vcpu: kvm_vcpu, vmx: vcpu_vmx, gfn: number): Promise<number> {
  const o = emulate_instruction(vcpu, true);
  if (o.kind !== "unhandleable") return handle_emulation(vcpu, vmx, o);
  await spin_lock(vcpu.kvm.lock);
  kvm_mmu_unprotect_page(vcpu.kvm, gfn);
  spin_unlock(vcpu.kvm.lock);
  return 1;
}

/** Act on what instruction emulation decided (1 = re-enter, 0 = exit to userspace). */
function handle_emulation(vcpu: kvm_vcpu, vmx: vcpu_vmx, o: emulation_outcome): number {
  switch (o.kind) {
    case "continue":
      return 1;
    case "pin":
      return request_pin(vmx, o.gfn);
    case "exit":
      return 0;
    case "unhandleable":
      return kvm_internal_error(vcpu.run, o.why);
    case "inject":
      if (o.vector === 14) kvm_inject_page_fault(vcpu, o.cr2 ?? 0, o.error_code ?? 0);
      else kvm_inject_exception(o.vector, o.error_code);
      return 1;
  }
}

/** A fault-class exception kvm injects pushes RF=1, as one the CPU raised would (SDM 6.8.3;
 *  Linux's inject_pending_event): VM entry pushes RFLAGS as the guest state has it. #DB,
 *  #BP and #OF are traps, #DF an abort. */
function set_rf_for_fault(vector: number): void {
  if (vector === 1 || vector === 3 || vector === 4 || vector === 8) return;
  vmcs_writel(VMCS.GUEST_RFLAGS, (vmcs_readl(VMCS.GUEST_RFLAGS) | X86_EFLAGS_RF) >>> 0);
}

/** Inject a hardware exception (with its error code, if it has one) at the next entry. */
function kvm_inject_exception(vector: number, error_code: number | null): void {
  set_rf_for_fault(vector);
  vmcs_write32(VMCS.VM_ENTRY_INTR_INFO_FIELD, (vector | INTR_TYPE_HARD_EXCEPTION | (error_code !== null ? INTR_INFO_DELIVER_CODE_MASK : 0) | INTR_INFO_VALID_MASK) >>> 0);
  if (error_code !== null) vmcs_write32(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
}

/** Reflect a page fault into the guest: CR2 and an injected #PF with its error code,
 *  delivered through the guest's IDT at the next VM entry. */
function kvm_inject_page_fault(vcpu: kvm_vcpu, addr: number, error_code: number): void {
  // The fault struck while an event was being delivered (vmx_complete_interrupts queued it
  // again): a #PF during a #PF or a contributory exception (#DE, #TS, #NP, #SS, #GP) is a
  // double fault (SDM Table 6-5); otherwise the #PF is delivered instead.
  const queued = vmcs_read32(VMCS.VM_ENTRY_INTR_INFO_FIELD);
  if ((queued & INTR_INFO_VALID_MASK) !== 0 && (queued & INTR_INFO_INTR_TYPE_MASK) === INTR_TYPE_HARD_EXCEPTION) {
    const v = queued & INTR_INFO_VECTOR_MASK;
    if (v === 14 || v === 0 || (v >= 10 && v <= 13)) {
      kvm_inject_exception(8, 0);
      return;
    }
  }
  vcpu.cr2 = addr >>> 0;
  kvm_inject_exception(14, error_code);
}

/** Inject #GP(0), e.g. for an RDMSR of an MSR the guest CPU does not have. */
function kvm_inject_gp(_vcpu: kvm_vcpu): void {
  kvm_inject_exception(13, 0);
}

function run_exception(run: Kva, vector: number, error_code: number): void {
  set_exit_reason(run, KVM_EXIT_EXCEPTION);
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, vector, true);
  dv.setUint32(4, error_code >>> 0, true);
  set_exit_union(run, b);
}

/** handle_io: decode the exit qualification (size-1 [2:0], IN [3], string [4], REP [5],
 *  port [31:16]) and hand the access to userspace (kvm/pio.ts). */
function handle_io(vcpu: kvm_vcpu, vmx: vcpu_vmx): number {
  const q = vmcs_readl(VMCS.EXIT_QUALIFICATION);
  const o = kvm_handle_io(vcpu, q >>> 16, (q & 7) + 1, (q & 8) !== 0, (q & 16) !== 0, (q & 32) !== 0);
  switch (o.kind) {
    case "exit":
      return 0;
    case "continue":
      return 1;
    case "pin":
      return request_pin(vmx, o.gfn);
    case "page_fault":
      kvm_inject_page_fault(vcpu, o.cr2, o.error_code);
      return 1;
    case "unhandleable":
      return kvm_internal_error(vcpu.run, o.why);
  }
}

/** handle_ept_violation: fill the EPT for the guest-physical address (tdp_page_fault);
 *  the instruction restarts on the next entry (RIP was not advanced). A gpa outside every
 *  slot is MMIO: the instruction is emulated. */
async function handle_ept_violation(vcpu: kvm_vcpu, vmx: vcpu_vmx): Promise<number> {
  const addr = vmcs_read32(VMCS.GUEST_PHYSICAL_ADDRESS);
  const r = await tdp_page_fault(vcpu, vmx.mmu_cache, gpa(addr), vmcs_readl(VMCS.EXIT_QUALIFICATION));
  switch (r.kind) {
    case "fixed":
      return 1;
    case "retry":
      return request_pin(vmx, r.pin_gfn);
    case "guest_fault":
    case "pt_write":
      return kvm_internal_error(vcpu.run, `EPT violation reported as ${r.kind}`);
    case "mmio":
      // No slot behind the gpa: emulate the instruction, as after a shadow #PF on MMIO.
      return handle_emulation(vcpu, vmx, emulate_instruction(vcpu));
  }
}

/** handle_cr: MOV to/from CR0, CR3, CR4, CLTS and LMSW (exit qualification: CR number
 *  [3:0], access type [5:4], GPR [11:8], LMSW source [31:16]). */
async function handle_cr(vcpu: kvm_vcpu): Promise<number> {
  const q = vmcs_readl(VMCS.EXIT_QUALIFICATION);
  const cr = q & 15;
  const type = (q >>> 4) & 3;
  const reg = (q >>> 8) & 15;
  const get = (r: number) => (r === 4 ? vmcs_readl(VMCS.GUEST_RSP) : vcpu.regs[r]);
  const set = (r: number, v: number) => (r === 4 ? vmcs_writel(VMCS.GUEST_RSP, v) : (vcpu.regs[r] = v >>> 0));
  switch (type) {
    case 0: // MOV to CR
      if (cr === 0) {
        const v = get(reg);
        if ((v & X86_CR0_PG) !== 0 && (v & X86_CR0_PE) === 0) return kvm_internal_error(vcpu.run, "CR0.PG without CR0.PE (#GP not injected yet)");
        const mode_change = ((v ^ vcpu.cr0) & (X86_CR0_PG | X86_CR0_PE | X86_CR0_WP)) !== 0;
        vmx_set_cr0(vcpu, v);
        // Under two-dimensional paging the EPT does not depend on the guest's paging mode.
        if (mode_change && !vcpu.kvm.tdp) kvm_mmu_reset_context(vcpu);
      } else if (cr === 3) {
        vcpu.cr3 = get(reg) >>> 0;
        if ((vcpu.cr0 & X86_CR0_PG) !== 0) {
          await spin_lock(vcpu.kvm.lock);
          kvm_mmu_new_cr3(vcpu);
          spin_unlock(vcpu.kvm.lock);
        }
      } else if (cr === 4) {
        vmx_set_cr4(vcpu, get(reg));
        if (!vcpu.kvm.tdp) kvm_mmu_reset_context(vcpu);
      } else return kvm_internal_error(vcpu.run, `MOV to CR${cr}`);
      break;
    case 1: // MOV from CR (only CR3 exits; CR0/CR4 reads see the read shadow)
      if (cr === 3) set(reg, vcpu.cr3);
      else return kvm_internal_error(vcpu.run, `MOV from CR${cr}`);
      break;
    case 2: // CLTS
      vmx_set_cr0(vcpu, vcpu.cr0 & ~X86_CR0_TS);
      break;
    case 3: // LMSW: loads CR0[3:0]; cannot clear PE
      vmx_set_cr0(vcpu, (vcpu.cr0 & ~0xe) | ((q >>> 16) & 0xf) | (vcpu.cr0 & 1));
      break;
  }
  skip_emulated_instruction();
  return 1;
}

/** Free the backend's per-vcpu resources (vcpu put, exclusive). */
export function vmx_vcpu_free(vcpu: kvm_vcpu): void {
  const vmx = to_vmx(vcpu);
  for (const p of vmx.mmu_cache.pages) __free_page(p);
  vmx.mmu_cache.pages = [];
  kvm_mmu_reset_context(vcpu);
}

// Emulating the instruction behind an MMIO access (emulate_instruction in the 2007
// driver): the glue between the exit handler, guest memory and x86_emulate.
//
// The ops reach guest memory the way the guest would: linear -> guest-physical by the
// guest's page walk (identity with paging off), then the memory slots; a gpa no slot
// backs is MMIO and goes to userspace as KVM_EXIT_MMIO. The vcpu is loaded while this
// runs (it reads and writes the VMCS) and kvm.lock is not held: nothing here sleeps. A
// guest page not yet pinned cannot be pinned here; the instruction is abandoned, the
// page pinned with the vcpu put, and the guest re-executes the instruction (and faults
// on the MMIO access again).

import { VMCS, vmcs_read32, vmcs_readl, vmcs_writel } from "../compat/linux/asm/vmx.js";
import { kread, kwrite } from "../compat/linux/kmem.js";
import { page_address } from "../compat/linux/mm.js";
import { PAGE_SIZE, kva, type Kva, type gpa_t, type gva_t } from "../compat/linux/types.js";
import { KVM_EXIT_MMIO, KVM_RUN_EXIT_UNION, kvm_run_mmio_layout } from "../include/uapi/linux/kvm.js";
import { encode } from "../include/uapi/struct_layout.js";
import type { kvm_vcpu } from "./kvm_host.js";
import { kvm_internal_error, set_exit_reason, set_exit_union } from "./kvm_run.js";
import { spin_lock, spin_unlock } from "../compat/linux/spinlock.js";
import { gfn_is_shadowed, gfn_readonly, gfn_to_backing, kvm_mmu_pte_write, mark_page_dirty } from "./mmu.js";
import { kvm_mmu_walk_addr } from "./paging_tmpl.js";
import {
  x86_emulate_complete_mmio_read, x86_emulate_complete_mmio_write, x86_emulate_ctxt, x86_emulate_insn, x86_emulate_mode,
  type x86_emulate_ops, type x86_emulate_read_result, type x86_emulate_result, type x86_emulate_write_result,
} from "./x86_emulate.js";

const ESP = 4;
const X86_CR0_PG = 1 << 31;

/** Per-vcpu emulation state kept across exits to userspace. */
interface vcpu_emulation {
  ctxt: x86_emulate_ctxt;
  /** An MMIO access handed to userspace, completed at the next KVM_RUN. */
  mmio_pending: "read" | "write" | null;
  mmio_len: number;
  /** Set by the ops when a guest page must be pinned before emulation can proceed. */
  unpinned_gfn: number | null;
}

const emulation = new WeakMap<kvm_vcpu, vcpu_emulation>();
function emul(vcpu: kvm_vcpu): vcpu_emulation {
  let e = emulation.get(vcpu);
  if (e === undefined) {
    e = { ctxt: new x86_emulate_ctxt(), mmio_pending: null, mmio_len: 0, unpinned_gfn: null };
    emulation.set(vcpu, e);
  }
  return e;
}

/** Abandoning an instruction because a guest page must be pinned first. */
class NeedPin {
  constructor(readonly gfn: number) {}
}

type seg_fields = readonly [base: number, limit: number, ar: number];
const SEGS: seg_fields[] = [
  [VMCS.GUEST_ES_BASE, VMCS.GUEST_ES_LIMIT, VMCS.GUEST_ES_AR_BYTES],
  [VMCS.GUEST_CS_BASE, VMCS.GUEST_CS_LIMIT, VMCS.GUEST_CS_AR_BYTES],
  [VMCS.GUEST_SS_BASE, VMCS.GUEST_SS_LIMIT, VMCS.GUEST_SS_AR_BYTES],
  [VMCS.GUEST_DS_BASE, VMCS.GUEST_DS_LIMIT, VMCS.GUEST_DS_AR_BYTES],
  [VMCS.GUEST_FS_BASE, VMCS.GUEST_FS_LIMIT, VMCS.GUEST_FS_AR_BYTES],
  [VMCS.GUEST_GS_BASE, VMCS.GUEST_GS_LIMIT, VMCS.GUEST_GS_AR_BYTES],
];

function load_ctxt(vcpu: kvm_vcpu, ctxt: x86_emulate_ctxt): void {
  ctxt.regs.set(vcpu.regs);
  ctxt.regs[ESP] = vmcs_readl(VMCS.GUEST_RSP);
  ctxt.eip = vmcs_readl(VMCS.GUEST_RIP);
  ctxt.eflags = vmcs_readl(VMCS.GUEST_RFLAGS);
  SEGS.forEach(([b, l, a], i) => (ctxt.seg[i] = { base: vmcs_readl(b) >>> 0, limit: vmcs_read32(l), attrib: vmcs_read32(a) }));
  ctxt.mode = x86_emulate_mode(vcpu.cr0, ctxt.eflags, ctxt.seg[1].attrib);
}

/** After every emulator call the guest's state is what the emulator committed. */
function store_ctxt(vcpu: kvm_vcpu, ctxt: x86_emulate_ctxt): void {
  for (let i = 0; i < 8; i++) if (i !== ESP) vcpu.regs[i] = ctxt.regs[i];
  vmcs_writel(VMCS.GUEST_RSP, ctxt.regs[ESP]);
  vmcs_writel(VMCS.GUEST_RIP, ctxt.eip >>> 0);
  vmcs_writel(VMCS.GUEST_RFLAGS, ctxt.eflags >>> 0);
}

/** The guest's CPL: CS.RPL in protected mode, 0 in real mode. */
function guest_cpl(vcpu: kvm_vcpu): number {
  return (vcpu.cr0 & 1) === 0 ? 0 : vmcs_readl(VMCS.GUEST_CS_SELECTOR) & 3;
}

/** Where a guest linear access of `n` bytes lands, for string PIO: a kernel address of
 *  the guest RAM behind it, "mmio", a #PF to reflect, or a page to pin first. */
export function guest_linear_to_kva(vcpu: kvm_vcpu, linear: number, write: boolean):
  | { kind: "ram"; kva: Kva; gfn: number } | { kind: "mmio" } | { kind: "fault"; error_code: number; cr2: number } | { kind: "pin"; gfn: number } {
  try {
    const a = guest_access(vcpu, linear, write);
    return a.kind === "ram" ? a : a.kind === "mmio" ? { kind: "mmio" } : { kind: "fault", error_code: a.error_code, cr2: a.cr2 };
  } catch (x) {
    if (x instanceof NeedPin) return { kind: "pin", gfn: x.gfn };
    throw x;
  }
}

type guest_access = { kind: "ram"; kva: Kva; gfn: number } | { kind: "mmio"; gpa: number } | { kind: "fault"; vector: 14; error_code: number; cr2: number };

/** Where a linear access of the guest lands (the range lies within one page). */
function guest_access(vcpu: kvm_vcpu, linear: number, write: boolean): guest_access {
  let gpa = linear >>> 0;
  if ((vcpu.cr0 & X86_CR0_PG) !== 0) {
    const w = kvm_mmu_walk_addr(vcpu, linear as gva_t, write, guest_cpl(vcpu) === 3);
    if (w.kind === "unpinned") throw new NeedPin(w.gfn);
    if (w.kind === "fault") return { kind: "fault", vector: 14, error_code: w.error_code, cr2: linear >>> 0 };
    if (w.kind === "bad_table") return { kind: "mmio", gpa: w.gpa };
    gpa = w.gpa;
  }
  const gfn = Math.floor(gpa / PAGE_SIZE);
  const p = gfn_to_backing(vcpu.kvm, gfn);
  if (p === "mmio" || (write && gfn_readonly(vcpu.kvm, gfn))) return { kind: "mmio", gpa };
  if (p === "unpinned") throw new NeedPin(gfn);
  return { kind: "ram", kva: kva(page_address(p) + (gpa % PAGE_SIZE)), gfn };
}

function emulator_ops(vcpu: kvm_vcpu): x86_emulate_ops {
  const read = (linear: number, n: number): x86_emulate_read_result => {
    const a = guest_access(vcpu, linear, false);
    return a.kind === "ram" ? { kind: "ram", bytes: kread(a.kva, n) } : a;
  };
  return {
    fetch: read,
    read,
    write(linear: number, bytes: Uint8Array): x86_emulate_write_result {
      const a = guest_access(vcpu, linear, true);
      if (a.kind !== "ram") return a;
      kwrite(a.kva, bytes);
      mark_page_dirty(vcpu.kvm, a.gfn);
      // A store into a shadowed guest page table (emulated because the frame is
      // write-protected, or reached by an MMIO instruction): the shadow must follow.
      if (gfn_is_shadowed(vcpu.kvm, a.gfn)) {
        spin_lock(vcpu.kvm.lock);
        kvm_mmu_pte_write(vcpu.kvm, (a.gfn * PAGE_SIZE + (linear % PAGE_SIZE)) as gpa_t, bytes.length);
        spin_unlock(vcpu.kvm.lock);
      }
      return { kind: "ram" };
    },
  };
}

export type emulation_outcome =
  /** Re-enter the guest. */
  | { kind: "continue" }
  /** Re-enter after pinning this guest page (the vcpu must be put to sleep for it). */
  | { kind: "pin"; gfn: number }
  /** kvm_run describes an exit to userspace. */
  | { kind: "exit" }
  /** Reflect an exception into the guest. */
  | { kind: "inject"; vector: number; error_code: number | null; cr2?: number }
  /** The emulator cannot do the instruction, and the caller asked to be told (nothing of
   *  the failed iteration is committed; kvm_run is untouched). */
  | { kind: "unhandleable"; why: string };

function finish(vcpu: kvm_vcpu, e: vcpu_emulation, r: x86_emulate_result, report_unhandleable = false): emulation_outcome {
  store_ctxt(vcpu, e.ctxt);
  const run = vcpu.run;
  switch (r.kind) {
    case "done":
      return { kind: "continue" };
    case "inject":
      return { kind: "inject", vector: r.vector, error_code: r.error_code, cr2: r.cr2 };
    case "mmio_read":
    case "mmio_write": {
      const data = new Uint8Array(8);
      if (r.kind === "mmio_write") data.set(r.data.subarray(0, 8));
      set_exit_reason(run, KVM_EXIT_MMIO);
      set_exit_union(run, encode(kvm_run_mmio_layout, {
        phys_addr: BigInt(r.gpa), data, len: r.len, is_write: r.kind === "mmio_write" ? 1 : 0,
      }));
      e.mmio_pending = r.kind === "mmio_read" ? "read" : "write";
      e.mmio_len = r.len;
      vcpu.kvm.stat.mmio_exits++;
      return { kind: "exit" };
    }
    case "unhandleable":
      if (report_unhandleable) return { kind: "unhandleable", why: `at eip 0x${e.ctxt.eip.toString(16)}: ${r.why}` };
      kvm_internal_error(run, `at eip 0x${e.ctxt.eip.toString(16)}: ${r.why}`);
      return { kind: "exit" };
  }
}

function guarded(vcpu: kvm_vcpu, e: vcpu_emulation, f: () => x86_emulate_result, report_unhandleable = false): emulation_outcome {
  try {
    return finish(vcpu, e, f(), report_unhandleable);
  } catch (x) {
    if (!(x instanceof NeedPin)) throw x;
    // Nothing was committed for this attempt: drop it and let the guest re-execute.
    e.ctxt = new x86_emulate_ctxt();
    e.mmio_pending = null;
    return { kind: "pin", gfn: x.gfn };
  }
}

/** emulate_instruction: the guest touched MMIO, or wrote a write-protected page table;
 *  emulate the instruction at CS:EIP. With `report_unhandleable` an instruction the
 *  emulator cannot do comes back as "unhandleable" instead of an internal-error exit. */
export function emulate_instruction(vcpu: kvm_vcpu, report_unhandleable = false): emulation_outcome {
  const e = emul(vcpu);
  e.ctxt = new x86_emulate_ctxt();
  load_ctxt(vcpu, e.ctxt);
  const ops = emulator_ops(vcpu);
  return guarded(vcpu, e, () => x86_emulate_insn(e.ctxt, ops), report_unhandleable);
}

/** At KVM_RUN: userspace has answered the MMIO exit; carry on with the instruction. */
export function complete_mmio(vcpu: kvm_vcpu): emulation_outcome | null {
  const e = emul(vcpu);
  if (e.mmio_pending === null) return null;
  const which = e.mmio_pending;
  e.mmio_pending = null;
  const ops = emulator_ops(vcpu);
  if (which === "read") {
    const data = kread(kva(vcpu.run + KVM_RUN_EXIT_UNION + kvm_run_mmio_layout.offsetOf("data")!), e.mmio_len);
    return guarded(vcpu, e, () => x86_emulate_complete_mmio_read(e.ctxt, ops, data));
  }
  return guarded(vcpu, e, () => x86_emulate_complete_mmio_write(e.ctxt, ops));
}

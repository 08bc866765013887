// Port I/O exits (handle_io and its completion, complete_pio): the access goes to
// userspace through kvm_run.io, with the data in the PIO page of the vcpu mapping.
//
// IN/OUT: one element; OUT's data is copied out of RAX before the exit, IN's data into
// RAX at the next KVM_RUN, and RIP moves past the instruction at the exit.
// INS/OUTS (string I/O): up to a page of elements per exit (count in kvm_run.io): OUTS
// copies them from guest memory at seg:ESI before the exit, INS copies them to ES:EDI at
// the next KVM_RUN. ESI/EDI move by DF, ECX counts down under REP, and RIP moves past
// the instruction only when the count is exhausted; otherwise the guest re-executes it
// and exits again for the next batch, as hardware resumes an interrupted REP. Every
// element's guest address is translated (and its page pinned) before the exit, so the
// completion cannot fault.

import { VMCS, vmcs_read32, vmcs_readl, vmcs_writel } from "../compat/linux/asm/vmx.js";
import { kread, kwrite } from "../compat/linux/kmem.js";
import { PAGE_SIZE, type Kva, type gpa_t } from "../compat/linux/types.js";
import { KVM_EXIT_IO, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, KVM_PIO_PAGE_OFFSET, kvm_run_io_layout } from "../include/uapi/linux/kvm.js";
import { encode } from "../include/uapi/struct_layout.js";
import type { kvm_vcpu } from "./kvm_host.js";
import { set_exit_reason, set_exit_union } from "./kvm_run.js";
import { guest_linear_to_kva } from "./emulate.js";
import { gfn_is_shadowed, kvm_mmu_pte_write, mark_page_dirty } from "./mmu.js";
import { spin_lock, spin_unlock } from "../compat/linux/spinlock.js";

const EAX = 0, ECX = 1, ESI = 6, EDI = 7;
const X86_EFLAGS_DF = 1 << 10;
const SEG_BASE = [VMCS.GUEST_ES_BASE, VMCS.GUEST_CS_BASE, VMCS.GUEST_SS_BASE, VMCS.GUEST_DS_BASE, VMCS.GUEST_FS_BASE, VMCS.GUEST_GS_BASE];

export interface pio_pending {
  in: boolean;
  size: number;
  /** String I/O: where each element goes, and the register updates to make. */
  string: { kvas: Kva[]; gfns: number[]; rep: boolean; a32: boolean; step: number; insn_len: number } | null;
}

export type pio_outcome =
  | { kind: "exit" }
  | { kind: "continue" }
  | { kind: "pin"; gfn: number }
  | { kind: "page_fault"; cr2: number; error_code: number }
  | { kind: "unhandleable"; why: string };

function exit_io(vcpu: kvm_vcpu, is_in: boolean, size: number, port: number, count: number): void {
  set_exit_reason(vcpu.run, KVM_EXIT_IO);
  set_exit_union(vcpu.run, encode(kvm_run_io_layout, {
    direction: is_in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT, size, port, count,
    data_offset: BigInt(KVM_PIO_PAGE_OFFSET * PAGE_SIZE),
  }));
}

/** handle_io, with the vcpu loaded; the exit qualification decoded by the caller. */
export function kvm_handle_io(vcpu: kvm_vcpu, port: number, size: number, is_in: boolean, string: boolean, rep: boolean): pio_outcome {
  vcpu.kvm.stat.io_exits++;
  const insn_len = vmcs_read32(VMCS.VM_EXIT_INSTRUCTION_LEN);
  if (!string) {
    if (!is_in) {
      const v = vcpu.regs[EAX];
      const b = new Uint8Array(size);
      for (let i = 0; i < size; i++) b[i] = (v >>> (8 * i)) & 0xff;
      kwrite(vcpu.pio_data, b);
    }
    exit_io(vcpu, is_in, size, port, 1);
    vcpu.pio_pending = { in: is_in, size, string: null };
    vmcs_writel(VMCS.GUEST_RIP, (vmcs_readl(VMCS.GUEST_RIP) + insn_len) >>> 0);
    return { kind: "exit" };
  }
  const info = vmcs_read32(VMCS.VMX_INSTRUCTION_INFO);
  const a32 = ((info >>> 7) & 7) === 1;
  const seg = is_in ? 0 : (info >>> 15) & 7;
  const amask = a32 ? 0xffffffff : 0xffff;
  const reg = is_in ? EDI : ESI;
  const count = rep ? vcpu.regs[ECX] & amask : 1;
  if (count === 0) {
    vmcs_writel(VMCS.GUEST_RIP, (vmcs_readl(VMCS.GUEST_RIP) + insn_len) >>> 0);
    return { kind: "continue" };
  }
  const step = (vmcs_readl(VMCS.GUEST_RFLAGS) & X86_EFLAGS_DF) !== 0 ? -size : size;
  const base = vmcs_readl(SEG_BASE[seg]) >>> 0;
  const n = Math.min(count, Math.floor(PAGE_SIZE / size));
  const kvas: Kva[] = [];
  const gfns: number[] = [];
  for (let i = 0; i < n; i++) {
    const off = (vcpu.regs[reg] + i * step) & amask;
    const linear = (base + (off >>> 0)) >>> 0;
    if ((linear % PAGE_SIZE) + size > PAGE_SIZE) break; // an element across pages ends the batch
    const a = guest_linear_to_kva(vcpu, linear, is_in);
    if (a.kind === "pin") return { kind: "pin", gfn: a.gfn };
    if (a.kind === "fault") {
      if (i === 0) return { kind: "page_fault", cr2: a.cr2, error_code: a.error_code };
      break; // the elements before the fault go now; the fault comes with the next batch
    }
    if (a.kind === "mmio") break;
    kvas.push(a.kva);
    gfns.push(a.gfn);
  }
  if (kvas.length === 0) return { kind: "unhandleable", why: `string I/O on port 0x${port.toString(16)} with a memory operand in MMIO` };
  if (!is_in) {
    const data = new Uint8Array(kvas.length * size);
    kvas.forEach((k, i) => data.set(kread(k, size), i * size));
    kwrite(vcpu.pio_data, data);
  }
  exit_io(vcpu, is_in, size, port, kvas.length);
  vcpu.pio_pending = { in: is_in, size, string: { kvas, gfns, rep, a32, step, insn_len } };
  return { kind: "exit" };
}

/** complete_pio, at the next KVM_RUN with the vcpu loaded. */
export function complete_pio(vcpu: kvm_vcpu): void {
  const p = vcpu.pio_pending;
  vcpu.pio_pending = null;
  if (p === null) return;
  if (p.string === null) {
    if (!p.in) return;
    const data = kread(vcpu.pio_data, p.size);
    let v = 0;
    for (let i = p.size - 1; i >= 0; i--) v = (v << 8) | data[i];
    const keep = p.size === 4 ? 0 : vcpu.regs[EAX] & ~((1 << (p.size * 8)) - 1);
    vcpu.regs[EAX] = (keep | v) >>> 0;
    return;
  }
  const s = p.string;
  const n = s.kvas.length;
  if (p.in) {
    const data = kread(vcpu.pio_data, n * p.size);
    s.kvas.forEach((k, i) => kwrite(k, data.subarray(i * p.size, (i + 1) * p.size)));
    for (const g of s.gfns) mark_page_dirty(vcpu.kvm, g);
    // INS into a shadowed guest page table: the shadow follows, as for an emulated store.
    s.kvas.forEach((k, i) => {
      if (!gfn_is_shadowed(vcpu.kvm, s.gfns[i])) return;
      spin_lock(vcpu.kvm.lock);
      kvm_mmu_pte_write(vcpu.kvm, (s.gfns[i] * PAGE_SIZE + (k % PAGE_SIZE)) as gpa_t, p.size);
      spin_unlock(vcpu.kvm.lock);
    });
  }
  const amask = s.a32 ? 0xffffffff : 0xffff;
  const reg = p.in ? EDI : ESI;
  const adv = (r: number, by: number) => (vcpu.regs[r] = ((vcpu.regs[r] & ~amask) | ((vcpu.regs[r] + by) & amask)) >>> 0);
  adv(reg, n * s.step);
  let done = true;
  if (s.rep) {
    adv(ECX, -n);
    done = (vcpu.regs[ECX] & amask) === 0;
  }
  if (done) vmcs_writel(VMCS.GUEST_RIP, (vmcs_readl(VMCS.GUEST_RIP) + s.insn_len) >>> 0);
}

// A loader's entry state written into the structures of KVM_SET_REGS and KVM_SET_SREGS:
// the VMM reads both with KVM_GET_*, applies this, and writes them back, so fields the
// loader does not set (efer, apic_base, the interrupt bitmap) keep the kernel's values.

import type { kvm_regs, kvm_segment, kvm_sregs, kvm_dtable } from "../../../include/uapi/linux/kvm.js";
import type { DtableState, EntryState, SegmentState } from "./entry_state.js";

function seg(dst: kvm_segment, s: SegmentState): void {
  dst.base = BigInt(s.base >>> 0);
  dst.limit = s.limit >>> 0;
  dst.selector = s.selector;
  dst.type = s.type;
  dst.present = s.present;
  dst.dpl = s.dpl;
  dst.db = s.db;
  dst.s = s.s;
  dst.l = s.l;
  dst.g = s.g;
  dst.avl = s.avl;
  dst.unusable = s.present ? 0 : 1;
}

function dt(dst: kvm_dtable, d: DtableState): void {
  dst.base = BigInt(d.base >>> 0);
  dst.limit = d.limit;
}

export function apply_entry_state(e: EntryState, regs: kvm_regs, sregs: kvm_sregs): void {
  const r = e.regs;
  regs.rax = BigInt(r.eax >>> 0); regs.rbx = BigInt(r.ebx >>> 0); regs.rcx = BigInt(r.ecx >>> 0); regs.rdx = BigInt(r.edx >>> 0);
  regs.rsi = BigInt(r.esi >>> 0); regs.rdi = BigInt(r.edi >>> 0); regs.rsp = BigInt(r.esp >>> 0); regs.rbp = BigInt(r.ebp >>> 0);
  regs.rip = BigInt(r.eip >>> 0);
  regs.rflags = BigInt((r.eflags | 2) >>> 0);
  const s = e.sregs;
  seg(sregs.cs, s.cs); seg(sregs.ds, s.ds); seg(sregs.es, s.es); seg(sregs.fs, s.fs); seg(sregs.gs, s.gs); seg(sregs.ss, s.ss);
  seg(sregs.tr, s.tr); seg(sregs.ldt, s.ldt);
  dt(sregs.gdt, s.gdt); dt(sregs.idt, s.idt);
  sregs.cr0 = BigInt(s.cr0 >>> 0);
  sregs.cr2 = BigInt(s.cr2 >>> 0);
  sregs.cr3 = BigInt(s.cr3 >>> 0);
  sregs.cr4 = BigInt(s.cr4 >>> 0);
}

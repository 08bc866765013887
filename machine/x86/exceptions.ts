// Event delivery: exceptions, software interrupts and external interrupts, through the
// IVT (real mode) or the IDT (protected mode), with the double-fault rules of SDM Vol. 3A
// 6.15 Table 6-5: a contributory exception (#DE #TS #NP #SS #GP) while delivering a
// contributory one, or a contributory exception or #PF while delivering a #PF, becomes #DF;
// any exception while delivering #DF is a triple fault (shutdown). Other combinations are
// handled serially. In VMX non-root operation an exception whose bit is set in the
// exception bitmap is not delivered: it becomes a VM exit, and CR2 is not written.
//
// Faults report the address of the faulting instruction; traps (#DB after an instruction,
// #BP, #OF, INT n) the address of the next one (ret_eip).

import type { Stop, X86Cpu } from "./cpu.js";
import { core_of, type Core } from "./core.js";
import { DB, DF, PF, X86Fault, gp, has_error_code } from "./fault.js";
import { DB_GENERAL_DETECT, DR6_BD, debug_exception } from "./debug.js";
import { EptExit } from "./ept.js";
import { push } from "./stack.js";
import { sys_read } from "./mmu.js";
import { load_real_seg, pm_deliver } from "./descriptors.js";
import { CS, ESP, FLAG_AC, FLAG_IF, FLAG_RF, FLAG_TF, SS, type SegmentReg } from "./state.js";

export const EV_EXTERNAL = 0, EV_NMI = 2, EV_HW_EXCEPTION = 3, EV_SOFT_INT = 4, EV_PRIV_SOFT = 5, EV_SOFT_EXCEPTION = 6;

function contributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}

function is_double(first: number, second: number): boolean {
  if (first === PF) return second === PF || contributory(second);
  return contributory(first) && contributory(second);
}

/** An exception detected while executing (or delivering): exit to the hypervisor if the
 *  exception bitmap says so, otherwise deliver it. Every exception an instruction throws is
 *  a fault: the RFLAGS image it pushes, or that its VM exit saves, has RF=1 (SDM 6.8.3,
 *  27.3.3), so that an instruction breakpoint does not strike again when it restarts. The
 *  only #DB thrown is general detect (debug.ts). */
export function handle_fault(c: Core, f: X86Fault): Stop | null {
  if (f.vector === DB) return debug_exception(c, DR6_BD, DB_GENERAL_DETECT);
  c.cpu.last_event_vector = f.vector;
  c.s.eflags = (c.s.eflags | FLAG_RF) >>> 0;
  const vmx = c.cpu.vmx;
  if (vmx !== null && ((vmx.exception_bitmap >>> f.vector) & 1) !== 0) {
    c.delivering = -1;
    if (f.vector === PF) return { kind: "exception", vector: f.vector, error_code: f.error_code, cr2: f.cr2 };
    return { kind: "exception", vector: f.vector, error_code: f.error_code };
  }
  if (f.vector === PF) c.s.cr2 = f.cr2;
  return deliver_event(c, f.vector, f.error_code, EV_HW_EXCEPTION, c.s.eip);
}

/** Deliver one event; `ret_eip` is the EIP saved on the handler's stack. */
export function deliver_event(c: Core, vector: number, error_code: number | null, type: number, ret_eip: number): Stop | null {
  const s = c.s;
  const first = c.delivering;
  const esp = s.gpr[ESP], eip = s.eip, eflags = s.eflags;
  const cs: SegmentReg = { ...s.seg[CS] }, ss: SegmentReg = { ...s.seg[SS] };
  c.delivering = type === EV_HW_EXCEPTION ? vector : -1;
  try {
    c.cpu.last_event_vector = vector;
    if (!c.pe) real_deliver(c, vector, ret_eip);
    else pm_deliver(c, vector, type === EV_HW_EXCEPTION ? error_code : null,
      type === EV_SOFT_INT || type === EV_SOFT_EXCEPTION, type !== EV_SOFT_INT && type !== EV_SOFT_EXCEPTION && type !== EV_PRIV_SOFT, ret_eip);
    c.delivering = -1;
    s.interruptibility = 0;
    return null;
  } catch (e) {
    if (!(e instanceof X86Fault) && !(e instanceof EptExit)) throw e;
    // Undo the partial delivery: the second exception is reported against the original state.
    s.gpr[ESP] = esp; s.eip = eip; s.eflags = eflags;
    s.seg[CS] = cs; s.seg[SS] = ss;
    c.sync_mode(); c.sync_seg(CS); c.sync_seg(SS);
    if (e instanceof EptExit) {
      // A VM exit during event delivery records the event in the IDT-vectoring
      // information (SDM 27.2.4); the hypervisor re-injects it on the next entry.
      c.delivering = -1;
      if (e.vectoring === null) {
        const soft = type === EV_SOFT_INT || type === EV_PRIV_SOFT || type === EV_SOFT_EXCEPTION;
        const has_ec = type === EV_HW_EXCEPTION && error_code !== null;
        e.vectoring = {
          info: (vector | (type << 8) | (has_ec ? 0x800 : 0) | 0x80000000) >>> 0,
          error_code: has_ec ? error_code! >>> 0 : 0,
          insn_len: soft ? ((ret_eip - eip) >>> 0) & 0xffff : 0,
        };
      }
      throw e;
    }
    const vectoring = {
      info: (vector | (type << 8) | (type === EV_HW_EXCEPTION && error_code !== null ? 0x800 : 0) | 0x80000000) >>> 0,
      error_code: type === EV_HW_EXCEPTION && error_code !== null ? error_code >>> 0 : 0,
      insn_len: type === EV_SOFT_INT || type === EV_PRIV_SOFT || type === EV_SOFT_EXCEPTION ? ((ret_eip - eip) >>> 0) & 0xffff : 0,
    };
    // An exception raised while delivering an event that the exception bitmap intercepts
    // is a VM exit, with the interrupted event in the IDT-vectoring information; no
    // double fault is formed (SDM 27.2.4, 25.2). This is how a shadow-paging hypervisor
    // sees a guest IDT, GDT or stack page that its shadow table has not mapped yet.
    const vmx0 = c.cpu.vmx;
    if (vmx0 !== null && ((vmx0.exception_bitmap >>> e.vector) & 1) !== 0) {
      c.delivering = -1;
      c.cpu.last_event_vector = e.vector;
      if (e.vector === PF) return { kind: "exception", vector: e.vector, error_code: e.error_code, cr2: e.cr2, vectoring };
      return { kind: "exception", vector: e.vector, error_code: e.error_code, vectoring };
    }
    const cur = type === EV_HW_EXCEPTION ? vector : first;
    c.delivering = -1;
    if (cur === DF) return triple(c);
    let f = e;
    // EXT (bit 0 of a selector error code): the event being delivered was not INT n/INT3/INTO.
    if (type !== EV_SOFT_INT && type !== EV_SOFT_EXCEPTION && f.vector !== PF && f.error_code !== null && (f.error_code & 1) === 0)
      f = new X86Fault(f.vector, f.error_code | 1, f.cr2);
    if (cur >= 0 && is_double(cur, f.vector)) {
      c.delivering = -1;
      const vmx = c.cpu.vmx;
      if (f.vector === PF && !(vmx !== null && ((vmx.exception_bitmap >>> PF) & 1) !== 0)) s.cr2 = f.cr2;
      return handle_fault_in(c, new X86Fault(DF, 0), DF);
    }
    return handle_fault_in(c, f, f.vector);
  }
}

function handle_fault_in(c: Core, f: X86Fault, v: number): Stop | null {
  c.cpu.last_event_vector = v;
  c.s.eflags = (c.s.eflags | FLAG_RF) >>> 0;
  const vmx = c.cpu.vmx;
  if (vmx !== null && ((vmx.exception_bitmap >>> v) & 1) !== 0) {
    if (v === PF) return { kind: "exception", vector: v, error_code: f.error_code, cr2: f.cr2 };
    return { kind: "exception", vector: v, error_code: f.error_code };
  }
  if (v === PF) c.s.cr2 = f.cr2;
  return deliver_event(c, v, f.error_code, EV_HW_EXCEPTION, c.s.eip);
}

function triple(c: Core): Stop {
  c.delivering = -1;
  return { kind: "triple_fault" };
}

/** Real-address mode: the IVT at IDTR.base holds 4-byte IP:CS vectors. Push FLAGS, CS, IP;
 *  clear IF, TF, AC (SDM Vol. 3A 20.1.4). A vector beyond IDTR.limit is #GP. */
function real_deliver(c: Core, vector: number, ret_eip: number): void {
  const s = c.s;
  if (vector * 4 + 3 > s.idtr.limit) gp(0);
  const ent = (s.idtr.base + vector * 4) >>> 0;
  const ip = sys_read(c, ent, 2);
  const sel = sys_read(c, (ent + 2) >>> 0, 2);
  push(c, s.eflags & 0xffff, 2);
  push(c, s.seg[CS].selector, 2);
  push(c, ret_eip & 0xffff, 2);
  s.eflags &= ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
  load_real_seg(c, CS, sel);
  s.eip = ip;
}

/** X86Cpu.inject_event: see cpu.ts. */
export function inject_event(cpu: X86Cpu, info: number, error_code: number, insn_len: number): boolean {
  const c = core_of(cpu);
  c.sync();
  const vector = info & 0xff, type = (info >>> 8) & 7;
  const soft = type === EV_SOFT_INT || type === EV_PRIV_SOFT || type === EV_SOFT_EXCEPTION;
  const ec = type === EV_HW_EXCEPTION && (info & 0x800) !== 0 ? error_code >>> 0 : null;
  const ret = soft ? (c.s.eip + insn_len) >>> 0 : c.s.eip;
  let stop: Stop | null;
  try {
    stop = type === EV_HW_EXCEPTION
      ? deliver_event(c, vector, ec ?? (has_error_code(vector) && (info & 0x800) !== 0 ? 0 : null), EV_HW_EXCEPTION, ret)
      : deliver_event(c, vector, null, type, ret);
  } catch (e) {
    // An EPT violation while injecting: the VM exit comes before any guest instruction.
    if (!(e instanceof EptExit)) throw e;
    stop = e.stop();
  }
  if (stop !== null && stop.kind === "triple_fault") return false;
  if (stop !== null) c.pending_stop = stop;
  return true;
}

/** X86Cpu.flush_tlb: see cpu.ts. */
export function flush_tlb(cpu: X86Cpu, all: boolean): void {
  const c = core_of(cpu);
  c.flush_tlb(!all);
  c.sync();
}

// The instruction interpreter: execute(cpu, budget) runs up to `budget` instructions on one
// X86Cpu and says why it stopped. Decoding is cached per physical address (core.ts); the
// semantics of each opcode are in exec() below, grouped by opcode map order, with the
// arithmetic in alu.ts, string instructions in string_ops.ts, segment loads and far
// transfers in descriptors.ts, paging in mmu.ts and event delivery in exceptions.ts.
//
// Instruction boundaries: EIP names the executing instruction until it completes, so a
// fault reports it (fault semantics) and a VM exit leaves EIP on it. Between instructions
// the CPU takes, in order: a VM exit for the interrupt window (VMX, IF=1, no shadow), an
// external interrupt (cpu.irq, outside VMX), then the next instruction; after it, a
// single-step #DB trap if EFLAGS.TF was set when it began.

import type { Stop, X86Cpu } from "./cpu.js";
import { core_of, type Core } from "./core.js";
import { CLS_OK, CLS_SSE, CLS_X87, Insn, decode, type ByteSource } from "./decode.js";
import { BP, BR, DB, DE, NM, OF as OF_VEC, X86Fault, fault, gp, ud } from "./fault.js";
import { ARITH, add, trunc, alu, dec, divide, div_rem, inc, logic, mul, mul_hi, shift, shld, sub, szp } from "./alu.js";
import { lin_fetch8, translate } from "./mmu.js";
import { EptExit } from "./ept.js";
import { rd, rd16, wr } from "./segmem.js";
import { pop, push, sp_add } from "./stack.js";
import { reg_get, reg_set } from "./regs.js";
import { string_op } from "./string_ops.js";
import {
  far_call, far_jmp, far_ret, iret, io_allowed, load_seg, sysenter_sysexit, sys_insn_0f00, sys_insn_0f01, lar_lsl, arpl,
} from "./descriptors.js";
import { EV_EXTERNAL, EV_PRIV_SOFT, EV_SOFT_EXCEPTION, EV_SOFT_INT, deliver_event, handle_fault } from "./exceptions.js";
import { DB_INSN_BP, DB_TRAP, DR6_BS, debug_exception, exec_bp_hits, io_bp } from "./debug.js";
import { mov_from_cr, mov_to_cr, mov_dr, clts } from "./control.js";
import { cpuid, rdmsr, wrmsr } from "./msr_insn.js";
import {
  BLOCKING_BY_MOV_SS, BLOCKING_BY_STI, CR0_EM, CR0_MP, CR0_TS, CS, DS, EAX, EBP, EBX, ECX, EDX, ESP, ES, FS, GS, SS,
  FLAG_AF, FLAG_CF, FLAG_DF, FLAG_IF, FLAG_IOPL, FLAG_OF, FLAG_PF, FLAG_RF, FLAG_SF, FLAG_TF, FLAG_ZF, FLAG_AC, FLAG_ID, FLAG_NT,
} from "./state.js";

class CodeFetch implements ByteSource {
  c!: Core;
  eip = 0;
  byte(i: number): number {
    const c = this.c;
    const off = c.code32 ? (this.eip + i) >>> 0 : this.eip + i;
    if (off > c.shi[CS]) gp(0);
    return lin_fetch8(c, (c.sbase[CS] + off) >>> 0);
  }
}
const fetcher = new CodeFetch();

function same_bytes(d: Insn, f: Uint8Array, off: number): boolean {
  const b = d.bytes;
  for (let k = 0; k < b.length; k++) if (f[off + k] !== b[k]) return false;
  return true;
}

/** Decode the instruction at CS:EIP, from the cache when its bytes are unchanged. */
function fetch(c: Core): Insn {
  const eip = c.s.eip;
  if (eip > c.shi[CS]) gp(0);
  const lin = (c.sbase[CS] + eip) >>> 0;
  const lpn = lin >>> 12;
  if (lpn !== c.fetch_lpn || c.fetch_gen !== c.tlb_gen) {
    const i = translate(c, lin, false, c.cpl === 3, true);
    const f = c.tlb_frame[i];
    c.fetch_frame = f;
    c.fetch_lpn = lpn;
    c.fetch_gen = c.tlb_gen;
    if (f !== null) {
      const ppn = c.tlb_ppn[i];
      let slots = c.code_pages.get(ppn);
      if (slots === undefined) { slots = new Array<Insn | undefined>(4096); c.code_pages.set(ppn, slots); }
      c.fetch_slots = slots;
    } else {
      c.fetch_slots = null;
    }
  }
  const off = lin & 0xfff;
  const slots = c.fetch_slots;
  if (slots !== null) {
    const d = slots[off];
    const f = c.fetch_frame!;
    if (d !== undefined && d.code32 === c.code32 && same_bytes(d, f, off)) {
      if (eip + d.len - 1 > c.shi[CS]) gp(0);
      return d;
    }
  }
  fetcher.c = c;
  fetcher.eip = eip;
  const d = decode(fetcher, c.code32);
  if (slots !== null && off + d.len <= 4096) {
    d.bytes = c.fetch_frame!.slice(off, off + d.len);
    slots[off] = d;
  }
  return d;
}

export function execute(cpu: X86Cpu, budget: number): Stop {
  const c = core_of(cpu);
  c.sync();
  if (c.pending_stop !== null) {
    const st = c.pending_stop;
    c.pending_stop = null;
    return st;
  }
  const s = c.s;
  let n = 0;
  while (n < budget) {
    try {
      while (n < budget) {
        // Event window between instructions.
        const vmx = cpu.vmx;
        if (s.interruptibility === 0 && (s.eflags & FLAG_IF) !== 0) {
          if (vmx !== null) {
            if (vmx.interrupt_window_exiting) return { kind: "interrupt_window" };
          } else if (cpu.irq >= 0) {
            const v = cpu.irq;
            cpu.irq = -1;
            n++;
            const st = deliver_event(c, v, null, EV_EXTERNAL, s.eip);
            if (st !== null) return st;
            continue;
          }
        }
        const fl = s.eflags;
        const tf = fl & FLAG_TF;
        if ((c.bp_any | (fl & FLAG_RF)) !== 0) {
          // Instruction breakpoints, unless RF suppresses them; then RF is cleared for this
          // instruction (IRET may set it again) and data breakpoints start afresh.
          c.bp_hits = 0;
          if ((fl & FLAG_RF) === 0) {
            const hits = c.bp_exec === 0 ? 0 : exec_bp_hits(c, (c.sbase[CS] + s.eip) >>> 0);
            if (hits !== 0) {
              n++;
              const st0 = debug_exception(c, hits, DB_INSN_BP);
              if (st0 !== null) return st0;
              continue;
            }
          } else s.eflags = (fl & ~FLAG_RF) >>> 0;
        }
        const d = fetch(c);
        c.next_eip = c.code32 ? (s.eip + d.len) >>> 0 : (s.eip + d.len) & 0xffff;
        s.interruptibility = 0;
        n++;
        const st = exec(c, d);
        if (st !== null) {
          // HLT retires unless it causes a VM exit (HLT exiting): see the HLT case in exec().
          if (st.kind === "hlt" && (vmx === null || !vmx.hlt_exiting)) { s.eip = c.next_eip; cpu.insns_retired++; }
          return st;
        }
        s.eip = c.next_eip;
        cpu.insns_retired++;
        if ((tf | c.bp_hits) !== 0) {
          // One #DB trap for single-step and the data/I/O breakpoints the instruction met.
          const cause = (tf !== 0 ? DR6_BS : 0) | c.bp_hits;
          c.bp_hits = 0;
          const st2 = debug_exception(c, cause, DB_TRAP);
          if (st2 !== null) return st2;
        }
      }
    } catch (e) {
      const st = fault_stop(c, e);
      if (st !== null) return st;
    }
  }
  return { kind: "budget" };
}

/** An exception thrown by an instruction: an EPT violation or misconfiguration is a VM
 *  exit (also when it strikes while the fault's own delivery is under way); a processor
 *  exception is delivered or exits per the exception bitmap. */
function fault_stop(c: Core, e: unknown): Stop | null {
  if (e instanceof EptExit) return e.stop();
  if (!(e instanceof X86Fault)) throw e;
  try {
    return handle_fault(c, e);
  } catch (e2) {
    if (e2 instanceof EptExit) return e2.stop();
    throw e2;
  }
}

// ---- operand helpers ----------------------------------------------------------------------

function ea(c: Core, d: Insn): number {
  const g = c.s.gpr;
  let a = d.disp;
  if (d.ea_base >= 0) a += g[d.ea_base];
  if (d.ea_index >= 0) a += g[d.ea_index] << d.ea_scale;
  return d.asize === 2 ? a & 0xffff : a >>> 0;
}

function rm_get(c: Core, d: Insn, size: number): number {
  return d.mod === 3 ? reg_get(c.s.gpr, d.rm, size) : rd(c, d.ea_seg, ea(c, d), size);
}
function rm_set(c: Core, d: Insn, size: number, v: number): void {
  if (d.mod === 3) reg_set(c.s.gpr, d.rm, size, v);
  else wr(c, d.ea_seg, ea(c, d), size, v);
}

/** Condition codes of Jcc/SETcc/CMOVcc by the low opcode nibble (SDM Vol. 1 Table B-1). */
export function cond(f: number, cc: number): boolean {
  let r: boolean;
  switch (cc >>> 1) {
    case 0: r = (f & FLAG_OF) !== 0; break;
    case 1: r = (f & FLAG_CF) !== 0; break;
    case 2: r = (f & FLAG_ZF) !== 0; break;
    case 3: r = (f & (FLAG_CF | FLAG_ZF)) !== 0; break;
    case 4: r = (f & FLAG_SF) !== 0; break;
    case 5: r = (f & FLAG_PF) !== 0; break;
    case 6: r = ((f & FLAG_SF) !== 0) !== ((f & FLAG_OF) !== 0); break;
    default: r = (f & FLAG_ZF) !== 0 || ((f & FLAG_SF) !== 0) !== ((f & FLAG_OF) !== 0); break;
  }
  return (cc & 1) !== 0 ? !r : r;
}

/** Near branch: the target is truncated to the operand size and must lie within CS. */
function jump(c: Core, target: number, osize: number): void {
  const t = osize === 2 ? target & 0xffff : target >>> 0;
  if (t > c.shi[CS]) gp(0);
  c.next_eip = t;
}

/** Real-mode and protected-mode POPF/IRET flag update rules (SDM Vol. 2, POPF): CPL 0 may
 *  change IOPL; IF only when CPL <= IOPL; VM, VIP, VIF never; RF is cleared by POPF and
 *  loaded by a 32-bit IRET (`iret`), which is how a debug handler resumes past an
 *  instruction breakpoint. */
export function write_flags(c: Core, v: number, size: number, iret = false): void {
  const s = c.s;
  let mask = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_TF | FLAG_DF | FLAG_OF | FLAG_NT | FLAG_IF | FLAG_IOPL;
  if (size === 4) mask |= FLAG_AC | FLAG_ID;
  if (c.pe) {
    if (c.cpl > 0) mask &= ~FLAG_IOPL;
    if (c.cpl > ((s.eflags & FLAG_IOPL) >>> 12)) mask &= ~FLAG_IF;
  }
  const rf = iret && size === 4 ? v & FLAG_RF : 0;
  s.eflags = ((((s.eflags & ~mask) | (v & mask) | 2) & ~FLAG_RF) | rf) >>> 0;
}

function io_stop(c: Core, d: Insn, port: number, size: number, input: boolean, string: boolean, imm: boolean): Stop | null {
  const vmx = c.cpu.vmx;
  if (vmx !== null && vmx.io_exiting)
    return {
      kind: "io", port, size: size as 1 | 2 | 4, in: input, string, rep: string && d.rep !== 0, imm, insn_len: d.len,
      ...(string ? { address_size: d.asize as 2 | 4, seg: input ? 0 : d.seg >= 0 ? d.seg : 3 } : {}),
    };
  if (!io_allowed(c, port, size)) gp(0);
  if (c.bp_io !== 0) io_bp(c, port, size);
  return null;
}

function cpl0(c: Core): void {
  if (c.pe && c.cpl !== 0) gp(0);
}

function iopl_ok(c: Core): boolean {
  return !c.pe || c.cpl <= ((c.s.eflags & FLAG_IOPL) >>> 12);
}

/** x87 escape (D8-DF) and WAIT: no FPU is present (CPUID.1:EDX.FPU=0). CR0.EM or CR0.TS
 *  make ESC raise #NM (device not available); otherwise it is #UD. */
function x87(c: Core): never {
  if ((c.s.cr0 & (CR0_EM | CR0_TS)) !== 0) fault(NM);
  return ud();
}

/** MMX/SSE opcodes: CR0.EM=1 is #UD, CR0.TS=1 is #NM; this CPU has neither extension: #UD. */
function sse(c: Core): never {
  if ((c.s.cr0 & CR0_EM) === 0 && (c.s.cr0 & CR0_TS) !== 0) fault(NM);
  return ud();
}

/** Bit-test family: bit offset from a register may address outside the operand (memory form). */
function bit_op(c: Core, d: Insn, op: number, bitoff: number, from_reg: boolean): void {
  const os = d.osize, s = c.s, w = os * 8;
  let v: number, off = 0, seg = 0;
  let bit: number;
  if (d.mod === 3) {
    bit = bitoff & (w - 1);
    v = reg_get(s.gpr, d.rm, os);
  } else {
    seg = d.ea_seg;
    off = ea(c, d);
    if (from_reg) {
      const sb = os === 2 ? (bitoff << 16) >> 16 : bitoff | 0;
      const disp = Math.floor(sb / w) * os;
      off = d.asize === 2 ? (off + disp) & 0xffff : (off + disp) >>> 0;
      bit = sb & (w - 1);
    } else bit = bitoff & (w - 1);
    v = rd(c, seg, off, os);
  }
  const m = (1 << bit) >>> 0;
  s.eflags = (v & m) !== 0 ? s.eflags | FLAG_CF : s.eflags & ~FLAG_CF;
  if (op === 0) return;
  const nv = (op === 1 ? v | m : op === 2 ? v & ~m : v ^ m) >>> 0;
  if (d.mod === 3) reg_set(s.gpr, d.rm, os, nv);
  else wr(c, seg, off, os, nv);
}

// ---- the instruction set --------------------------------------------------------------------

function exec(c: Core, d: Insn): Stop | null {
  const s = c.s, g = s.gpr;
  const op = d.opcode;
  const os = d.osize;
  if (d.cls !== CLS_OK) {
    if (d.cls === CLS_X87) x87(c);
    if (d.cls === CLS_SSE) sse(c);
    ud();
  }
  if (op < 0x40 && (op & 7) < 6) {
    // ALU: 00-3D, operation in bits 5:3; forms Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib eAX,Iz.
    const aop = op >>> 3, form = op & 7;
    const size = (form & 1) === 0 ? 1 : os;
    if (form === 4 || form === 5) {
      const r = alu(c, aop, reg_get(g, EAX, size), d.imm, size);
      if (aop !== 7) reg_set(g, EAX, size, r);
    } else if (form < 2) {
      const src = reg_get(g, d.reg, size);
      if (d.mod === 3) {
        const r = alu(c, aop, reg_get(g, d.rm, size), src, size);
        if (aop !== 7) reg_set(g, d.rm, size, r);
      } else {
        const off = ea(c, d);
        const r = alu(c, aop, rd(c, d.ea_seg, off, size), src, size);
        if (aop !== 7) wr(c, d.ea_seg, off, size, r);
      }
    } else {
      const r = alu(c, aop, reg_get(g, d.reg, size), rm_get(c, d, size), size);
      if (aop !== 7) reg_set(g, d.reg, size, r);
    }
    return null;
  }
  switch (op) {
    case 0x06: push(c, s.seg[ES].selector, os); return null;
    case 0x0e: push(c, s.seg[CS].selector, os); return null;
    case 0x16: push(c, s.seg[SS].selector, os); return null;
    case 0x1e: push(c, s.seg[DS].selector, os); return null;
    case 0x07: pop_seg(c, ES, os); return null;
    case 0x17: pop_seg(c, SS, os); s.interruptibility = BLOCKING_BY_MOV_SS; return null;
    case 0x1f: pop_seg(c, DS, os); return null;
    case 0x27: daa_das(c, false); return null;
    case 0x2f: daa_das(c, true); return null;
    case 0x37: aaa_aas(c, false); return null;
    case 0x3f: aaa_aas(c, true); return null;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      reg_set(g, op & 7, os, inc(c, reg_get(g, op & 7, os), os)); return null;
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
      reg_set(g, op & 7, os, dec(c, reg_get(g, op & 7, os), os)); return null;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      // PUSH ESP pushes the value before the push (i386 and later).
      push(c, reg_get(g, op & 7, os), os); return null;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      const v = pop(c, os);
      reg_set(g, op & 7, os, v);
      return null;
    }
    case 0x60: { // PUSHA: AX CX DX BX, the original SP, BP SI DI
      const sp0 = reg_get(g, ESP, os);
      const save = g[ESP];
      try {
        for (let r = 0; r < 8; r++) push(c, r === ESP ? sp0 : reg_get(g, r, os), os);
      } catch (e) { g[ESP] = save; throw e; }
      return null;
    }
    case 0x61: { // POPA: the SP slot is skipped
      const save = g[ESP];
      const vals = [0, 0, 0, 0, 0, 0, 0, 0];
      try {
        for (let r = 7; r >= 0; r--) vals[r] = pop(c, os);
      } catch (e) { g[ESP] = save; throw e; }
      for (let r = 0; r < 8; r++) if (r !== ESP) reg_set(g, r, os, vals[r]);
      return null;
    }
    case 0x62: { // BOUND: #BR unless lower <= index <= upper (signed)
      const off = ea(c, d);
      const sh = 32 - os * 8;
      const lo = (rd(c, d.ea_seg, off, os) << sh) >> sh;
      const hi = (rd(c, d.ea_seg, (off + os) & (d.asize === 2 ? 0xffff : 0xffffffff), os) << sh) >> sh;
      const v = (reg_get(g, d.reg, os) << sh) >> sh;
      if (v < lo || v > hi) fault(BR);
      return null;
    }
    case 0x63: arpl(c, d, d.mod === 3 ? -1 : ea(c, d)); return null;
    case 0x68: push(c, d.imm, os); return null;
    case 0x6a: push(c, trunc(d.imm, os), os); return null;
    case 0x69: case 0x6b: {
      const r = mul(c, rm_get(c, d, os), trunc(d.imm, os), os, true);
      reg_set(g, d.reg, os, r);
      return null;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f: {
      const size = (op & 1) === 0 ? 1 : os;
      const st = io_stop(c, d, g[EDX] & 0xffff, size, op < 0x6e, true, false);
      if (st !== null) return st;
      if (!string_op(c, d, op, size)) c.next_eip = s.eip;
      return null;
    }
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
      if (cond(s.eflags, op & 15)) jump(c, c.next_eip + d.imm, os);
      return null;
    case 0x80: case 0x81: case 0x82: case 0x83: {
      const size = op === 0x81 || op === 0x83 ? os : 1;
      const imm = trunc(d.imm, size);
      if (d.mod === 3) {
        const r = alu(c, d.reg, reg_get(g, d.rm, size), imm, size);
        if (d.reg !== 7) reg_set(g, d.rm, size, r);
      } else {
        const off = ea(c, d);
        const r = alu(c, d.reg, rd(c, d.ea_seg, off, size), imm, size);
        if (d.reg !== 7) wr(c, d.ea_seg, off, size, r);
      }
      return null;
    }
    case 0x84: case 0x85: {
      const size = op === 0x84 ? 1 : os;
      logic(c, (rm_get(c, d, size) & reg_get(g, d.reg, size)) >>> 0, size);
      return null;
    }
    case 0x86: case 0x87: {
      const size = op === 0x86 ? 1 : os;
      if (d.mod === 3) {
        const a = reg_get(g, d.rm, size);
        reg_set(g, d.rm, size, reg_get(g, d.reg, size));
        reg_set(g, d.reg, size, a);
      } else {
        const off = ea(c, d);
        const a = rd(c, d.ea_seg, off, size);
        wr(c, d.ea_seg, off, size, reg_get(g, d.reg, size));
        reg_set(g, d.reg, size, a);
      }
      return null;
    }
    case 0x88: rm_set(c, d, 1, reg_get(g, d.reg, 1)); return null;
    case 0x89: rm_set(c, d, os, reg_get(g, d.reg, os)); return null;
    case 0x8a: reg_set(g, d.reg, 1, rm_get(c, d, 1)); return null;
    case 0x8b: reg_set(g, d.reg, os, rm_get(c, d, os)); return null;
    case 0x8c: // MOV Ev,Sreg: a register destination with 32-bit operand size gets the selector zero-extended
      if (d.mod === 3) reg_set(g, d.rm, os, s.seg[d.reg].selector);
      else wr(c, d.ea_seg, ea(c, d), 2, s.seg[d.reg].selector);
      return null;
    case 0x8d: reg_set(g, d.reg, os, ea(c, d)); return null;
    case 0x8e:
      load_seg(c, d.reg, rm_get(c, d, 2));
      if (d.reg === SS) s.interruptibility = BLOCKING_BY_MOV_SS;
      return null;
    case 0x8f: { // POP Ev: ESP is incremented before the destination address is computed
      const save = g[ESP];
      const v = pop(c, os);
      try { rm_set(c, d, os, v); } catch (e) { g[ESP] = save; throw e; }
      return null;
    }
    case 0x90:
      return null;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const a = reg_get(g, EAX, os);
      reg_set(g, EAX, os, reg_get(g, op & 7, os));
      reg_set(g, op & 7, os, a);
      return null;
    }
    case 0x98: // CBW / CWDE
      if (os === 2) reg_set(g, EAX, 2, ((g[EAX] << 24) >> 24) & 0xffff);
      else g[EAX] = (g[EAX] << 16) >> 16;
      return null;
    case 0x99: // CWD / CDQ
      if (os === 2) reg_set(g, EDX, 2, (g[EAX] & 0x8000) !== 0 ? 0xffff : 0);
      else g[EDX] = (g[EAX] & 0x80000000) !== 0 ? 0xffffffff : 0;
      return null;
    case 0x9a: far_call(c, d.imm2, d.imm, os); return null;
    case 0x9b: // WAIT: #NM when CR0.MP and CR0.TS are both set; no FPU exceptions can be pending
      if ((s.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) fault(NM);
      return null;
    case 0x9c: // PUSHF: the image has VM and RF clear
      push(c, os === 2 ? s.eflags & 0xffff : s.eflags & 0x00fcffff, os);
      return null;
    case 0x9d: {
      const v = pop(c, os);
      write_flags(c, os === 2 ? (s.eflags & 0xffff0000) | v : v, os);
      return null;
    }
    case 0x9e: // SAHF: SF ZF AF PF CF from AH
      s.eflags = (s.eflags & ~(FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF)) | ((g[EAX] >>> 8) & (FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF));
      return null;
    case 0x9f: // LAHF: AH = SF ZF 0 AF 0 PF 1 CF
      reg_set(g, 4, 1, (s.eflags & (FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF)) | 2);
      return null;
    case 0xa0: reg_set(g, EAX, 1, rd(c, d.ea_seg, d.disp, 1)); return null;
    case 0xa1: reg_set(g, EAX, os, rd(c, d.ea_seg, d.disp, os)); return null;
    case 0xa2: wr(c, d.ea_seg, d.disp, 1, g[EAX] & 0xff); return null;
    case 0xa3: wr(c, d.ea_seg, d.disp, os, reg_get(g, EAX, os)); return null;
    case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      if (!string_op(c, d, op, (op & 1) === 0 ? 1 : os)) c.next_eip = s.eip;
      return null;
    case 0xa8: logic(c, g[EAX] & d.imm & 0xff, 1); return null;
    case 0xa9: logic(c, (reg_get(g, EAX, os) & d.imm) >>> 0, os); return null;
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      reg_set(g, op & 7, 1, d.imm); return null;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
      reg_set(g, op & 7, os, d.imm); return null;
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = (op & 1) === 0 ? 1 : os;
      const count = (op >= 0xd2 ? g[ECX] : op >= 0xd0 ? 1 : d.imm) & 0x1f;
      if (d.mod === 3) {
        reg_set(g, d.rm, size, shift(c, d.reg, reg_get(g, d.rm, size), count, size));
      } else {
        const off = ea(c, d);
        const v = rd(c, d.ea_seg, off, size);
        const r = shift(c, d.reg, v, count, size);
        if (count !== 0) wr(c, d.ea_seg, off, size, r);
      }
      return null;
    }
    case 0xc2: case 0xc3: { // RET near [imm16]
      const t = pop(c, os);
      try { jump(c, t, os); } catch (e) { sp_add(c, -os); throw e; }
      if (op === 0xc2) sp_add(c, d.imm);
      return null;
    }
    case 0xc4: case 0xc5: load_far_ptr(c, d, op === 0xc4 ? ES : DS); return null;
    case 0xc6: rm_set(c, d, 1, d.imm); return null;
    case 0xc7: rm_set(c, d, os, d.imm); return null;
    case 0xc8: enter(c, d); return null;
    case 0xc9: { // LEAVE: (E)SP = (E)BP, then pop (E)BP
      const save = g[ESP];
      if (c.stack32) g[ESP] = g[EBP]; else reg_set(g, ESP, 2, g[EBP]);
      try { reg_set(g, EBP, os, pop(c, os)); } catch (e) { g[ESP] = save; throw e; }
      return null;
    }
    case 0xca: case 0xcb: far_ret(c, os, op === 0xca ? d.imm : 0); return null;
    case 0xcc: return soft_int(c, BP, EV_SOFT_EXCEPTION);
    case 0xcd: return soft_int(c, d.imm, EV_SOFT_INT);
    case 0xce: return (s.eflags & FLAG_OF) !== 0 ? soft_int(c, OF_VEC, EV_SOFT_EXCEPTION) : null;
    case 0xcf: iret(c, os); return null;
    case 0xd4: { // AAM: AH = AL / imm8, AL = AL mod imm8; #DE on 0
      if (d.imm === 0) fault(DE);
      const al = g[EAX] & 0xff;
      const r = al % d.imm;
      reg_set(g, EAX, 2, ((Math.floor(al / d.imm) & 0xff) << 8) | r);
      s.eflags = (s.eflags & ~ARITH) | szp(r, 1);
      return null;
    }
    case 0xd5: { // AAD: AL = AL + AH * imm8, AH = 0; flags as the byte ADD that computes it
      const al = g[EAX] & 0xff, ah = (g[EAX] >>> 8) & 0xff;
      const r = add(c, al, (ah * d.imm) & 0xff, 0, 1);
      reg_set(g, EAX, 2, r);
      return null;
    }
    case 0xd6: reg_set(g, EAX, 1, (s.eflags & FLAG_CF) !== 0 ? 0xff : 0); return null; // SALC
    case 0xd7: { // XLAT: AL = [seg:(E)BX + AL]
      const off = d.asize === 2 ? (g[EBX] + (g[EAX] & 0xff)) & 0xffff : (g[EBX] + (g[EAX] & 0xff)) >>> 0;
      reg_set(g, EAX, 1, rd(c, d.seg >= 0 ? d.seg : DS, off, 1));
      return null;
    }
    case 0xe0: case 0xe1: case 0xe2: { // LOOPNE LOOPE LOOP: count register by address size
      let cnt: number;
      if (d.asize === 4) cnt = g[ECX] = g[ECX] - 1;
      else { cnt = (g[ECX] - 1) & 0xffff; reg_set(g, ECX, 2, cnt); }
      const zf = (s.eflags & FLAG_ZF) !== 0;
      if (cnt !== 0 && (op === 0xe2 || (op === 0xe1 ? zf : !zf))) jump(c, c.next_eip + d.imm, os);
      return null;
    }
    case 0xe3:
      if ((d.asize === 4 ? g[ECX] : g[ECX] & 0xffff) === 0) jump(c, c.next_eip + d.imm, os);
      return null;
    case 0xe4: case 0xe5: case 0xec: case 0xed: {
      const size = (op & 1) === 0 ? 1 : os;
      const port = op < 0xe8 ? d.imm : g[EDX] & 0xffff;
      const st = io_stop(c, d, port, size, true, false, op < 0xe8);
      if (st !== null) return st;
      reg_set(g, EAX, size, c.bus.io_in(port, size as 1 | 2 | 4));
      return null;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: {
      const size = (op & 1) === 0 ? 1 : os;
      const port = op < 0xe8 ? d.imm : g[EDX] & 0xffff;
      const st = io_stop(c, d, port, size, false, false, op < 0xe8);
      if (st !== null) return st;
      c.bus.io_out(port, size as 1 | 2 | 4, reg_get(g, EAX, size));
      return null;
    }
    case 0xe8: { // CALL rel: the target is checked before the return address is pushed
      const t = os === 2 ? (c.next_eip + d.imm) & 0xffff : (c.next_eip + d.imm) >>> 0;
      if (t > c.shi[CS]) gp(0);
      push(c, c.next_eip, os);
      c.next_eip = t;
      return null;
    }
    case 0xe9: case 0xeb: jump(c, c.next_eip + d.imm, os); return null;
    case 0xea: far_jmp(c, d.imm2, d.imm, os); return null;
    case 0xf1: return soft_int(c, DB, EV_PRIV_SOFT); // INT1 (ICEBP): a #DB trap
    case 0xf4: { // HLT (CPL 0). VMX with HLT exiting: exit with EIP on the HLT (the hypervisor
      // skips insn_len). Otherwise (outside VMX, or in VMX without HLT exiting) the CPU halts
      // with EIP already past the HLT, as real hardware does, so an interrupt returns to the
      // next instruction. Either way execute() returns and the owner decides what halting means.
      cpl0(c);
      return { kind: "hlt", insn_len: d.len };
    }
    case 0xf5: s.eflags ^= FLAG_CF; return null;
    case 0xf6: case 0xf7: return grp3(c, d, op === 0xf6 ? 1 : os);
    case 0xf8: s.eflags &= ~FLAG_CF; return null;
    case 0xf9: s.eflags |= FLAG_CF; return null;
    case 0xfa: // CLI/STI: CPL <= IOPL in protected mode
      if (!iopl_ok(c)) gp(0);
      s.eflags &= ~FLAG_IF;
      return null;
    case 0xfb:
      if (!iopl_ok(c)) gp(0);
      if ((s.eflags & FLAG_IF) === 0) s.interruptibility = BLOCKING_BY_STI;
      s.eflags |= FLAG_IF;
      return null;
    case 0xfc: s.eflags &= ~FLAG_DF; return null;
    case 0xfd: s.eflags |= FLAG_DF; return null;
    case 0xfe: case 0xff: return grp45(c, d, op === 0xfe ? 1 : os);
  }
  if (op >= 0x100) return exec_0f(c, d);
  return ud();
}

function soft_int(c: Core, vector: number, type: number): Stop | null {
  // INT n, INT3 and INTO are traps: the saved EIP is the next instruction's. INT3, INTO and
  // INT1 are software exceptions: in VMX non-root operation the exception bitmap applies
  // (the exit leaves EIP on the instruction); INT n is never intercepted by it.
  const vmx = c.cpu.vmx;
  if (type !== EV_SOFT_INT && vmx !== null && ((vmx.exception_bitmap >>> vector) & 1) !== 0) {
    c.cpu.last_event_vector = vector;
    return { kind: "exception", vector, error_code: null };
  }
  const st = deliver_event(c, vector, null, type, c.next_eip);
  c.next_eip = c.s.eip;
  return st;
}

function pop_seg(c: Core, sreg: number, os: number): void {
  const g = c.s.gpr;
  const save = g[ESP];
  const v = pop(c, os);
  try { load_seg(c, sreg, v & 0xffff); } catch (e) { g[ESP] = save; throw e; }
}

function load_far_ptr(c: Core, d: Insn, sreg: number): void {
  const os = d.osize;
  const off = ea(c, d);
  const v = rd(c, d.ea_seg, off, os);
  const sel = rd16(c, d.ea_seg, d.asize === 2 ? (off + os) & 0xffff : (off + os) >>> 0);
  load_seg(c, sreg, sel);
  reg_set(c.s.gpr, d.reg, os, v);
}

/** ENTER imm16, imm8: push (E)BP, copy level-1 frame pointers, push the new frame pointer. */
function enter(c: Core, d: Insn): void {
  const s = c.s, g = s.gpr, os = d.osize;
  const level = d.imm2 & 31;
  const save_sp = g[ESP], save_bp = g[EBP];
  try {
    push(c, reg_get(g, EBP, os), os);
    const frame = c.stack32 ? g[ESP] : g[ESP] & 0xffff;
    if (level > 0) {
      let bp = c.stack32 ? g[EBP] : g[EBP] & 0xffff;
      for (let i = 1; i < level; i++) {
        bp = c.stack32 ? (bp - os) >>> 0 : (bp - os) & 0xffff;
        push(c, rd(c, SS, bp, os), os);
      }
      push(c, frame, os);
    }
    const nsp = c.stack32 ? (g[ESP] - d.imm) >>> 0 : (g[ESP] - d.imm) & 0xffff;
    // The new stack top must be writable: real processors check it before committing.
    if (d.imm !== 0) rd(c, SS, nsp, 1);
    if (c.stack32) g[EBP] = frame; else reg_set(g, EBP, 2, frame);
    if (os === 2 && !c.stack32) reg_set(g, EBP, 2, frame);
    if (c.stack32) g[ESP] = nsp; else reg_set(g, ESP, 2, nsp);
  } catch (e) {
    g[ESP] = save_sp; g[EBP] = save_bp;
    throw e;
  }
}

/** DAA/DAS (SDM Vol. 2): adjust AL after a packed-BCD add/subtract. OF undefined (cleared). */
function daa_das(c: Core, sub_: boolean): void {
  const s = c.s, g = s.gpr;
  const al0 = g[EAX] & 0xff, cf0 = (s.eflags & FLAG_CF) !== 0;
  let al = al0, cf = false, af = false;
  if ((al & 0xf) > 9 || (s.eflags & FLAG_AF) !== 0) {
    const t = sub_ ? al - 6 : al + 6;
    cf = cf0 || t < 0 || t > 0xff;
    al = t & 0xff;
    af = true;
  }
  if (al0 > 0x99 || cf0) {
    al = (sub_ ? al - 0x60 : al + 0x60) & 0xff;
    cf = true;
  }
  reg_set(g, EAX, 1, al);
  s.eflags = (s.eflags & ~ARITH) | szp(al, 1) | (cf ? FLAG_CF : 0) | (af ? FLAG_AF : 0);
}

/** AAA/AAS (i386 and later): AX += 0x106 / AX -= 6, AH -= 1 when the low nibble needs
 *  adjusting; AL keeps its low nibble. OF SF ZF PF undefined: set from AL, OF cleared. */
function aaa_aas(c: Core, sub_: boolean): void {
  const s = c.s, g = s.gpr;
  let ax = g[EAX] & 0xffff;
  let adj = false;
  if ((ax & 0xf) > 9 || (s.eflags & FLAG_AF) !== 0) {
    ax = sub_ ? ((ax - 6) & 0xffff) - 0x100 : ax + 0x106;
    adj = true;
  }
  ax &= 0xff0f;
  reg_set(g, EAX, 2, ax);
  s.eflags = (s.eflags & ~ARITH) | szp(ax & 0xff, 1) | (adj ? FLAG_CF | FLAG_AF : 0);
}

function grp3(c: Core, d: Insn, size: number): Stop | null {
  const s = c.s, g = s.gpr;
  switch (d.reg) {
    case 0: case 1: logic(c, (rm_get(c, d, size) & d.imm) >>> 0, size); return null;
    case 2: case 3: {
      const off = d.mod === 3 ? 0 : ea(c, d);
      const v = d.mod === 3 ? reg_get(g, d.rm, size) : rd(c, d.ea_seg, off, size);
      const r = d.reg === 2 ? trunc(~v, size) : sub(c, 0, v, 0, size);
      if (d.mod === 3) reg_set(g, d.rm, size, r); else wr(c, d.ea_seg, off, size, r);
      return null;
    }
    case 4: case 5: {
      const v = rm_get(c, d, size);
      const lo = mul(c, reg_get(g, EAX, size), v, size, d.reg === 5);
      if (size === 1) reg_set(g, EAX, 2, (mul_hi << 8) | lo);
      else { reg_set(g, EAX, size, lo); reg_set(g, EDX, size, mul_hi); }
      return null;
    }
    default: {
      const v = rm_get(c, d, size);
      const signed = d.reg === 7;
      if (size === 1) {
        const ax = g[EAX] & 0xffff;
        const q = divide(ax >>> 8, ax & 0xff, v, 1, signed);
        reg_set(g, EAX, 2, (div_rem << 8) | q);
      } else {
        const q = divide(reg_get(g, EDX, size), reg_get(g, EAX, size), v, size, signed);
        reg_set(g, EAX, size, q);
        reg_set(g, EDX, size, div_rem);
      }
      return null;
    }
  }
}

function grp45(c: Core, d: Insn, size: number): Stop | null {
  const s = c.s, g = s.gpr, os = d.osize;
  switch (d.reg) {
    case 0: case 1: {
      if (d.mod === 3) {
        const v = reg_get(g, d.rm, size);
        reg_set(g, d.rm, size, d.reg === 0 ? inc(c, v, size) : dec(c, v, size));
      } else {
        const off = ea(c, d);
        const v = rd(c, d.ea_seg, off, size);
        wr(c, d.ea_seg, off, size, d.reg === 0 ? inc(c, v, size) : dec(c, v, size));
      }
      return null;
    }
    case 2: { // CALL near Ev
      const t = rm_get(c, d, os);
      if (t > c.shi[CS]) gp(0);
      push(c, c.next_eip, os);
      c.next_eip = t;
      return null;
    }
    case 3: case 5: { // CALL/JMP far Mp
      const off = ea(c, d);
      const ip = rd(c, d.ea_seg, off, os);
      const sel = rd16(c, d.ea_seg, d.asize === 2 ? (off + os) & 0xffff : (off + os) >>> 0);
      if (d.reg === 3) far_call(c, sel, ip, os); else far_jmp(c, sel, ip, os);
      return null;
    }
    case 4: jump(c, rm_get(c, d, os), os); return null;
    case 6: push(c, rm_get(c, d, os), os); return null;
  }
  return ud();
}

function exec_0f(c: Core, d: Insn): Stop | null {
  const s = c.s, g = s.gpr, os = d.osize;
  const op = d.opcode & 0xff;
  switch (op) {
    case 0x00: sys_insn_0f00(c, d, d.mod === 3 ? -1 : ea(c, d)); return null;
    case 0x01: return sys_insn_0f01(c, d, d.mod === 3 ? -1 : ea(c, d));
    case 0x02: case 0x03: lar_lsl(c, d, op === 0x02, rm_get(c, d, 2)); return null;
    case 0x06: return clts(c, d);
    case 0x08: case 0x09: // INVD/WBINVD: caches are not modelled, so there is nothing to write back
      cpl0(c);
      return null;
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e:
    case 0x1f: if (d.mod !== 3) ea(c, d); return null; // hint NOP Ev: the operand is not accessed
    case 0x20: return mov_from_cr(c, d);
    case 0x22: return mov_to_cr(c, d);
    case 0x21: case 0x23: return mov_dr(c, d, op === 0x23);
    case 0x30: return wrmsr(c, d);
    case 0x31: { // RDTSC: CR4.TSD makes it CPL 0 only
      if ((s.cr4 & 4) !== 0 && c.pe && c.cpl !== 0) gp(0);
      const vmx = c.cpu.vmx;
      if (vmx !== null && vmx.rdtsc_exiting === true) return { kind: "rdtsc", insn_len: d.len };
      const t = Math.floor(c.cpu.tsc());
      g[EAX] = t % 0x100000000;
      g[EDX] = Math.floor(t / 0x100000000);
      return null;
    }
    case 0x32: return rdmsr(c, d);
    case 0x34: sysenter_sysexit(c, false); return null;
    case 0x35: sysenter_sysexit(c, true); return null;
    case 0xa2: return cpuid(c, d);
  }
  if (op >= 0x40 && op <= 0x4f) { // CMOVcc: the source is read even when the condition is false
    const v = rm_get(c, d, os);
    if (cond(s.eflags, op & 15)) reg_set(g, d.reg, os, v);
    return null;
  }
  if (op >= 0x80 && op <= 0x8f) {
    if (cond(s.eflags, op & 15)) jump(c, c.next_eip + d.imm, os);
    return null;
  }
  if (op >= 0x90 && op <= 0x9f) { rm_set(c, d, 1, cond(s.eflags, op & 15) ? 1 : 0); return null; }
  if (op >= 0xc8) { // BSWAP r32 (a 16-bit operand is undefined: this model clears the low word)
    const r = op & 7, v = g[r];
    g[r] = os === 2 ? (g[r] & 0xffff0000) : (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
    return null;
  }
  switch (op) {
    case 0xa0: push(c, s.seg[FS].selector, os); return null;
    case 0xa8: push(c, s.seg[GS].selector, os); return null;
    case 0xa1: pop_seg(c, FS, os); return null;
    case 0xa9: pop_seg(c, GS, os); return null;
    case 0xa3: bit_op(c, d, 0, reg_get(g, d.reg, os), true); return null;
    case 0xab: bit_op(c, d, 1, reg_get(g, d.reg, os), true); return null;
    case 0xb3: bit_op(c, d, 2, reg_get(g, d.reg, os), true); return null;
    case 0xbb: bit_op(c, d, 3, reg_get(g, d.reg, os), true); return null;
    case 0xba: bit_op(c, d, d.reg - 4, d.imm, false); return null;
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      const count = (op & 1) === 0 ? d.imm & 0x1f : g[ECX] & 0x1f;
      const src = reg_get(g, d.reg, os);
      const right = op >= 0xac;
      if (d.mod === 3) reg_set(g, d.rm, os, shld(c, reg_get(g, d.rm, os), src, count, os, right));
      else {
        const off = ea(c, d);
        const v = rd(c, d.ea_seg, off, os);
        const r = shld(c, v, src, count, os, right);
        if (count !== 0) wr(c, d.ea_seg, off, os, r);
      }
      return null;
    }
    case 0xaf: reg_set(g, d.reg, os, mul(c, reg_get(g, d.reg, os), rm_get(c, d, os), os, true)); return null;
    case 0xb0: case 0xb1: { // CMPXCHG: flags of accumulator - dest; the destination is always written
      const size = op === 0xb0 ? 1 : os;
      const off = d.mod === 3 ? 0 : ea(c, d);
      const v = d.mod === 3 ? reg_get(g, d.rm, size) : rd(c, d.ea_seg, off, size);
      const acc = reg_get(g, EAX, size);
      sub(c, acc, v, 0, size);
      const nv = acc === v ? reg_get(g, d.reg, size) : v;
      if (d.mod === 3) reg_set(g, d.rm, size, nv); else wr(c, d.ea_seg, off, size, nv);
      if (acc !== v) reg_set(g, EAX, size, v);
      return null;
    }
    case 0xb2: load_far_ptr(c, d, SS); s.interruptibility = 0; return null;
    case 0xb4: load_far_ptr(c, d, FS); return null;
    case 0xb5: load_far_ptr(c, d, GS); return null;
    case 0xb6: reg_set(g, d.reg, os, rm_get(c, d, 1)); return null;
    case 0xb7: reg_set(g, d.reg, os, rm_get(c, d, 2)); return null;
    case 0xbe: reg_set(g, d.reg, os, ((rm_get(c, d, 1) << 24) >> 24) >>> 0); return null;
    case 0xbf: reg_set(g, d.reg, os, ((rm_get(c, d, 2) << 16) >> 16) >>> 0); return null;
    case 0xbc: case 0xbd: { // BSF/BSR: ZF=1 and the destination unchanged when the source is 0
      const v = rm_get(c, d, os);
      if (v === 0) { s.eflags |= FLAG_ZF; return null; }
      const r = op === 0xbc ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
      reg_set(g, d.reg, os, r);
      s.eflags = (s.eflags & ~ARITH) | szp(r, os) & ~FLAG_ZF;
      return null;
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op === 0xc0 ? 1 : os;
      const src = reg_get(g, d.reg, size);
      if (d.mod === 3) {
        const v = reg_get(g, d.rm, size);
        const r = add(c, v, src, 0, size);
        reg_set(g, d.reg, size, v);
        reg_set(g, d.rm, size, r);
      } else {
        const off = ea(c, d);
        const v = rd(c, d.ea_seg, off, size);
        const r = add(c, v, src, 0, size);
        wr(c, d.ea_seg, off, size, r);
        reg_set(g, d.reg, size, v);
      }
      return null;
    }
    case 0xc7: { // CMPXCHG8B m64
      const off = ea(c, d);
      const lo = rd(c, d.ea_seg, off, 4), hi = rd(c, d.ea_seg, d.asize === 2 ? (off + 4) & 0xffff : (off + 4) >>> 0, 4);
      if (lo === g[EAX] && hi === g[EDX]) {
        wr(c, d.ea_seg, off, 4, g[EBX]);
        wr(c, d.ea_seg, d.asize === 2 ? (off + 4) & 0xffff : (off + 4) >>> 0, 4, g[ECX]);
        s.eflags |= FLAG_ZF;
      } else {
        wr(c, d.ea_seg, off, 4, lo);
        g[EAX] = lo; g[EDX] = hi;
        s.eflags &= ~FLAG_ZF;
      }
      return null;
    }
  }
  return ud();
}

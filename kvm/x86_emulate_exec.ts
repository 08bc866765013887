// The emulator's executor (the back half of drivers/kvm/x86_emulate.c): the semantics of
// the instructions x86_emulate_decode.ts accepts, one iteration at a time. An iteration is
// the whole instruction, or one element of a string instruction. It reads memory through
// the environment as it goes and queues its writes; the driver (x86_emulate.ts) performs
// the writes and commits the registers only when the iteration has finished, so a fault,
// or an MMIO read that must first go to the VMM, leaves the guest state untouched.
//
// Rules (Intel SDM Vol. 2):
// - General registers in encoding order EAX ECX EDX EBX ESP EBP ESI EDI. With byte operands
//   numbers 0-3 name AL CL DL BL and 4-7 AH CH DH BH. A 16-bit write keeps bits 31:16.
// - A read-modify-write instruction reads its destination, then writes it; CMP and TEST
//   only read. MOV to memory only writes.
// - LOCK is allowed only on ADD OR ADC SBB AND SUB XOR (forms with a memory destination),
//   group 1 except CMP, XCHG, NOT, NEG, INC, DEC, and only with a memory destination;
//   anywhere else it is #UD. Reserved group encodings (C6/C7 /1-/7, FE /2-/7, FF /7,
//   FF /3 and /5 with a register operand) are #UD.
// - String instructions: source DS:(E)SI (segment overridable), destination ES:(E)DI (never
//   overridden); (E)SI/(E)DI step by the operand size, downwards when EFLAGS.DF=1. The
//   address size picks SI/DI/CX or ESI/EDI/ECX. Under REP the count is tested before each
//   element and decremented after it; REPE/REPNE also end CMPS/SCAS when ZF becomes 0/1.
//   REP on any other instruction is ignored.

import {
  EAX, ECX, EDI, ES, ESI, DS, REP_E, REP_NE, REP_NONE, type x86_insn, x86_insn_ea,
} from "./x86_emulate_decode.js";
import { EFLG_DF, EFLG_ZF, SIZE_MASK, em_alu, em_dec, em_inc, em_logic, em_sub, type eflags_holder } from "./x86_emulate_flags.js";
import { emul_ud } from "./x86_emulate_fault.js";

/** What an iteration executes against: scratch copies of the registers and EFLAGS, and
 *  segmented memory (segment checks, then the linear access through the emulator ops). */
export interface x86_emul_env extends eflags_holder {
  readonly regs: Uint32Array;
  read(sreg: number, off: number, size: number): number;
  write(sreg: number, off: number, size: number, v: number): void;
}

export function reg_read(g: Uint32Array, r: number, size: number): number {
  if (size === 4) return g[r];
  if (size === 2) return g[r] & 0xffff;
  return r < 4 ? g[r] & 0xff : (g[r - 4] >>> 8) & 0xff;
}

export function reg_write(g: Uint32Array, r: number, size: number, v: number): void {
  if (size === 4) g[r] = v;
  else if (size === 2) g[r] = (g[r] & 0xffff0000) | (v & 0xffff);
  else if (r < 4) g[r] = (g[r] & 0xffffff00) | (v & 0xff);
  else g[r - 4] = (g[r - 4] & 0xffff00ff) | ((v & 0xff) << 8);
}

const LOCKABLE = new Uint8Array(512);
for (const b of [0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30]) { LOCKABLE[b] = 1; LOCKABLE[b + 1] = 1; }
for (const o of [0x80, 0x81, 0x82, 0x83, 0x86, 0x87, 0xf6, 0xf7, 0xfe, 0xff]) LOCKABLE[o] = 1;

/** #UD forms, checked before anything is accessed. */
function check_valid(d: x86_insn): void {
  const op = d.opcode, reg = d.reg, mem = d.has_modrm && d.mod !== 3;
  let bad = false;
  switch (op) {
    case 0xc6: case 0xc7: bad = reg !== 0; break;
    case 0xfe: bad = reg > 1; break;
    case 0xff: bad = reg === 7 || (!mem && (reg === 3 || reg === 5)); break;
  }
  if (d.lock) {
    if (LOCKABLE[op] === 0 || !mem) bad = true;
    else if ((op === 0xfe || op === 0xff) && reg > 1) bad = true;
    else if ((op === 0xf6 || op === 0xf7) && reg !== 2 && reg !== 3) bad = true;
    else if (op >= 0x80 && op <= 0x83 && reg === 7) bad = true;
  }
  if (bad) emul_ud();
}

/** The r/m operand: a register, or memory at the effective address. */
function rm_read(d: x86_insn, e: x86_emul_env, size: number): number {
  return d.mod === 3 ? reg_read(e.regs, d.rm, size) : e.read(d.ea_seg, x86_insn_ea(d, e.regs), size);
}
function rm_write(d: x86_insn, e: x86_emul_env, size: number, v: number): void {
  if (d.mod === 3) reg_write(e.regs, d.rm, size, v);
  else e.write(d.ea_seg, x86_insn_ea(d, e.regs), size, v);
}

/** Read-modify-write of the r/m operand; `f` returns the new value, or null to leave it unwritten. */
function rm_modify(d: x86_insn, e: x86_emul_env, size: number, f: (v: number) => number | null): void {
  if (d.mod === 3) {
    const r = f(reg_read(e.regs, d.rm, size));
    if (r !== null) reg_write(e.regs, d.rm, size, r);
    return;
  }
  // The address is computed once, from the registers before the instruction.
  const off = x86_insn_ea(d, e.regs);
  const r = f(e.read(d.ea_seg, off, size));
  if (r !== null) e.write(d.ea_seg, off, size, r);
}

/** Execute one iteration. Returns true when the instruction is complete (EIP may advance),
 *  false when a REP string instruction has more elements to do. */
export function x86_exec_iteration(d: x86_insn, e: x86_emul_env): boolean {
  check_valid(d);
  const g = e.regs, op = d.opcode, os = d.osize;
  if (op < 0x40) {
    // ALU 00-3D: operation in bits 5:3, form in bits 2:0.
    const aop = op >>> 3, form = op & 7;
    const size = (form & 1) === 0 ? 1 : os;
    if (form === 4 || form === 5) {
      const r = em_alu(e, aop, reg_read(g, EAX, size), d.imm, size);
      if (aop !== 7) reg_write(g, EAX, size, r);
    } else if (form < 2) {
      const src = reg_read(g, d.reg, size);
      rm_modify(d, e, size, (v) => {
        const r = em_alu(e, aop, v, src, size);
        return aop === 7 ? null : r;
      });
    } else {
      const r = em_alu(e, aop, reg_read(g, d.reg, size), rm_read(d, e, size), size);
      if (aop !== 7) reg_write(g, d.reg, size, r);
    }
    return true;
  }
  switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83: {
      const size = op === 0x81 || op === 0x83 ? os : 1;
      const imm = (d.imm & SIZE_MASK[size]) >>> 0;
      rm_modify(d, e, size, (v) => {
        const r = em_alu(e, d.reg, v, imm, size);
        return d.reg === 7 ? null : r;
      });
      return true;
    }
    case 0x84: case 0x85: {
      const size = op === 0x84 ? 1 : os;
      em_logic(e, rm_read(d, e, size) & reg_read(g, d.reg, size), size);
      return true;
    }
    case 0x86: case 0x87: { // XCHG: the memory operand is read, then written with the register
      const size = op === 0x86 ? 1 : os;
      const src = reg_read(g, d.reg, size);
      let old = 0;
      rm_modify(d, e, size, (v) => { old = v; return src; });
      reg_write(g, d.reg, size, old);
      return true;
    }
    case 0x88: rm_write(d, e, 1, reg_read(g, d.reg, 1)); return true;
    case 0x89: rm_write(d, e, os, reg_read(g, d.reg, os)); return true;
    case 0x8a: reg_write(g, d.reg, 1, rm_read(d, e, 1)); return true;
    case 0x8b: reg_write(g, d.reg, os, rm_read(d, e, os)); return true;
    case 0xa0: reg_write(g, EAX, 1, e.read(d.ea_seg, d.disp, 1)); return true;
    case 0xa1: reg_write(g, EAX, os, e.read(d.ea_seg, d.disp, os)); return true;
    case 0xa2: e.write(d.ea_seg, d.disp, 1, reg_read(g, EAX, 1)); return true;
    case 0xa3: e.write(d.ea_seg, d.disp, os, reg_read(g, EAX, os)); return true;
    case 0xa8: em_logic(e, reg_read(g, EAX, 1) & d.imm, 1); return true;
    case 0xa9: em_logic(e, reg_read(g, EAX, os) & d.imm, os); return true;
    case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      return string_iteration(d, e, (op & 1) === 0 ? 1 : os);
    case 0xc6: rm_write(d, e, 1, d.imm); return true;
    case 0xc7: rm_write(d, e, os, d.imm); return true;
    case 0xf6: case 0xf7: {
      const size = op === 0xf6 ? 1 : os;
      if (d.reg < 2) em_logic(e, rm_read(d, e, size) & d.imm, size); // TEST (/1 is an alias of /0)
      else if (d.reg === 2) rm_modify(d, e, size, (v) => (~v & SIZE_MASK[size]) >>> 0); // NOT: no flags
      else rm_modify(d, e, size, (v) => em_sub(e, 0, v, 0, size)); // NEG: flags of 0 - v
      return true;
    }
    case 0xfe: case 0xff: {
      const size = op === 0xfe ? 1 : os;
      rm_modify(d, e, size, (v) => (d.reg === 0 ? em_inc(e, v, size) : em_dec(e, v, size)));
      return true;
    }
    case 0x1b6: reg_write(g, d.reg, os, rm_read(d, e, 1)); return true;
    case 0x1b7: reg_write(g, d.reg, os, rm_read(d, e, 2)); return true;
    case 0x1be: reg_write(g, d.reg, os, ((rm_read(d, e, 1) << 24) >> 24) >>> 0); return true;
    case 0x1bf: reg_write(g, d.reg, os, ((rm_read(d, e, 2) << 16) >> 16) >>> 0); return true;
  }
  // The decoder admits only the opcodes above.
  throw new Error(`x86_emulate: no executor for decoded opcode 0x${op.toString(16)}`);
}

function advance(g: Uint32Array, r: number, step: number, a32: boolean): void {
  if (a32) g[r] = g[r] + step;
  else g[r] = (g[r] & 0xffff0000) | ((g[r] + step) & 0xffff);
}

/** One element of MOVS CMPS STOS LODS SCAS; the REP count rules around it. */
function string_iteration(d: x86_insn, e: x86_emul_env, size: number): boolean {
  const g = e.regs, op = d.opcode;
  const a32 = d.asize === 4;
  const amask = a32 ? 0xffffffff : 0xffff;
  if (d.rep !== REP_NONE && (g[ECX] & amask) === 0) return true;
  const step = (e.eflags & EFLG_DF) !== 0 ? -size : size;
  const src = d.seg >= 0 ? d.seg : DS;
  const si = (g[ESI] & amask) >>> 0, di = (g[EDI] & amask) >>> 0;
  switch (op) {
    case 0xa4: case 0xa5: { // MOVS: ES:[DI] = seg:[SI]
      const v = e.read(src, si, size);
      e.write(ES, di, size, v);
      advance(g, ESI, step, a32);
      advance(g, EDI, step, a32);
      break;
    }
    case 0xa6: case 0xa7: { // CMPS: flags of seg:[SI] - ES:[DI]
      const a = e.read(src, si, size);
      const b = e.read(ES, di, size);
      em_sub(e, a, b, 0, size);
      advance(g, ESI, step, a32);
      advance(g, EDI, step, a32);
      break;
    }
    case 0xaa: case 0xab: // STOS: ES:[DI] = accumulator
      e.write(ES, di, size, reg_read(g, EAX, size));
      advance(g, EDI, step, a32);
      break;
    case 0xac: case 0xad: // LODS: accumulator = seg:[SI]
      reg_write(g, EAX, size, e.read(src, si, size));
      advance(g, ESI, step, a32);
      break;
    default: // SCAS: flags of accumulator - ES:[DI]
      em_sub(e, reg_read(g, EAX, size), e.read(ES, di, size), 0, size);
      advance(g, EDI, step, a32);
      break;
  }
  if (d.rep === REP_NONE) return true;
  if (a32) g[ECX] = g[ECX] - 1;
  else g[ECX] = (g[ECX] & 0xffff0000) | ((g[ECX] - 1) & 0xffff);
  if ((g[ECX] & amask) === 0) return true;
  if (op === 0xa6 || op === 0xa7 || op === 0xae || op === 0xaf) {
    const zf = (e.eflags & EFLG_ZF) !== 0;
    if ((d.rep === REP_E && !zf) || (d.rep === REP_NE && zf)) return true;
  }
  return false;
}


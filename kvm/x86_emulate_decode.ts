// The emulator's decoder (the front half of drivers/kvm/x86_emulate.c): legacy prefixes,
// the opcode, ModR/M, SIB, displacement and immediate, per Intel SDM Vol. 2 chapter 2
// and appendix A, for the instructions the MMIO emulator executes. Anything else stops
// decoding as soon as the opcode (and, for a group, the ModR/M reg field) is known, and
// is reported unhandleable by name; its remaining bytes are never fetched.
//
// Encoding rules used here:
// - Prefixes may come in any order and number; the last segment override and the last
//   of F2/F3 win. 66 toggles the operand size, 67 the address size, from CS.D.
// - An instruction is at most 15 bytes: fetching a 16th byte is #GP(0).
// - 16-bit addressing (SDM Table 2-1): rm 0-7 = BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP
//   (disp16 alone when mod=0), BX; forms using BP default to SS. disp8 is sign-extended.
// - 32-bit addressing (Table 2-2/2-3): rm=4 takes a SIB byte (scale 7:6, index 5:3,
//   base 2:0; index 4 = none); base 5 with mod=0 is disp32 alone; ESP/EBP bases default to SS.
// - The effective address wraps at the address size.

import { emul_gp0, emul_unhandleable } from "./x86_emulate_fault.js";

export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
export const REP_NONE = 0, REP_E = 1, REP_NE = 2;

/** Bytes of the instruction stream at offsets from the instruction's EIP; faults as a fetch would. */
export interface x86_emul_byte_source {
  byte(i: number): number;
}

/** A decoded instruction. Opcodes 0x000-0x0ff are the one-byte map, 0x100-0x1ff the 0F map. */
export class x86_insn {
  opcode = 0;
  len = 0;
  /** Operand size of v-sized operands, in bytes. */
  osize: 2 | 4 = 2;
  /** Address size, in bytes. */
  asize: 2 | 4 = 2;
  /** Segment override prefix, or -1. */
  seg = -1;
  rep = REP_NONE;
  lock = false;
  has_modrm = false;
  mod = 3;
  reg = 0;
  rm = 0;
  ea_base = -1;
  ea_index = -1;
  ea_scale = 0;
  disp = 0;
  /** Segment of the ModR/M or moffs memory operand (override, else DS, or SS for BP/ESP/EBP bases). */
  ea_seg = DS;
  /** Immediate, zero-extended from its encoded size (except 83's imm8, sign-extended to 32 bits). */
  imm = 0;
}

// Immediate kinds.
const I_NONE = 0, I_B = 1, I_Z = 2, I_MOFFS = 3, I_GRP3 = 4;

/** Supported opcodes: 1 = no ModR/M, 2 = ModR/M; 0 = not emulated. And their immediates. */
const FORM = new Uint8Array(512);
const IMM = new Uint8Array(512);
function def(ops: number[], modrm: boolean, imm = I_NONE): void {
  for (const o of ops) { FORM[o] = modrm ? 2 : 1; IMM[o] = imm; }
}
// ALU: 00-3D with bits 2:0 < 6 (Eb,Gb  Ev,Gv  Gb,Eb  Gv,Ev  AL,Ib  eAX,Iz).
for (let b = 0; b < 0x40; b += 8) {
  def([b, b + 1, b + 2, b + 3], true);
  def([b + 4], false, I_B);
  def([b + 5], false, I_Z);
}
def([0x80, 0x82, 0x83], true, I_B); // group 1 Eb,Ib (82 is 80's alias outside 64-bit mode); Ev,Ib
def([0x81], true, I_Z); // group 1 Ev,Iz
def([0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b], true); // TEST, XCHG, MOV
def([0xa0, 0xa1, 0xa2, 0xa3], false, I_MOFFS); // MOV AL/eAX <-> moffs
def([0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf], false); // MOVS CMPS STOS LODS SCAS
def([0xa8], false, I_B); // TEST AL,Ib
def([0xa9], false, I_Z); // TEST eAX,Iz
def([0xc6], true, I_B); // MOV Eb,Ib (group 11)
def([0xc7], true, I_Z); // MOV Ev,Iz
def([0xf6, 0xf7], true, I_GRP3); // group 3: TEST NOT NEG (MUL IMUL DIV IDIV are not emulated)
def([0xfe, 0xff], true); // group 4/5: INC DEC
def([0x1b6, 0x1b7, 0x1be, 0x1bf], true); // MOVZX MOVSX

const hex2 = (v: number): string => v.toString(16).toUpperCase().padStart(2, "0");

/** The opcode as the SDM writes it: "0F A2", "FF /2". */
export function opcode_name(op: number, reg = -1): string {
  const s = op >= 0x100 ? `0F ${hex2(op & 0xff)}` : hex2(op);
  return reg >= 0 ? `${s} /${reg}` : s;
}

const sx8 = (v: number): number => (v << 24) >> 24;

/** Decode the instruction. Faults (#GP for a 16th byte, the fetch's #PF/#GP) propagate
 *  from `src`; an instruction the emulator does not execute throws x86_emul_unhandleable
 *  naming its opcode. Forms the SDM makes #UD are decoded and left to the executor. */
export function x86_decode_insn(src: x86_emul_byte_source, code32: boolean): x86_insn {
  const d = new x86_insn();
  let n = 0;
  const next = (): number => {
    if (n >= 15) emul_gp0();
    return src.byte(n++);
  };
  let osize: 2 | 4 = code32 ? 4 : 2, asize: 2 | 4 = osize;
  let b: number;
  for (;;) {
    b = next();
    switch (b) {
      case 0x26: d.seg = ES; continue;
      case 0x2e: d.seg = CS; continue;
      case 0x36: d.seg = SS; continue;
      case 0x3e: d.seg = DS; continue;
      case 0x64: d.seg = FS; continue;
      case 0x65: d.seg = GS; continue;
      case 0x66: osize = code32 ? 2 : 4; continue;
      case 0x67: asize = code32 ? 2 : 4; continue;
      case 0xf0: d.lock = true; continue;
      case 0xf2: d.rep = REP_NE; continue;
      case 0xf3: d.rep = REP_E; continue;
    }
    break;
  }
  const op = b === 0x0f ? 0x100 + next() : b;
  d.opcode = op;
  d.osize = osize;
  d.asize = asize;
  if (FORM[op] === 0) emul_unhandleable(`unsupported opcode ${opcode_name(op)}`);
  d.ea_seg = d.seg >= 0 ? d.seg : DS;
  if (FORM[op] === 2) {
    d.has_modrm = true;
    const m = next();
    const mod = m >>> 6, reg = (m >>> 3) & 7, rm = m & 7;
    d.mod = mod; d.reg = reg; d.rm = rm;
    // Groups with members the emulator does not execute: refuse before fetching further.
    if ((op === 0xf6 || op === 0xf7) && reg >= 4) emul_unhandleable(`unsupported opcode ${opcode_name(op, reg)}`);
    // FF /3 and /5 with a register operand are #UD (the executor says so), not CALLF/JMPF.
    if (op === 0xff && reg >= 2 && reg <= 6 && !(mod === 3 && (reg === 3 || reg === 5))) emul_unhandleable(`unsupported opcode ${opcode_name(op, reg)}`);
    if (mod !== 3) {
      let defseg = DS;
      if (asize === 2) {
        if (mod === 0 && rm === 6) {
          d.disp = next() | (next() << 8);
        } else {
          d.ea_base = [EBX, EBX, EBP, EBP, ESI, EDI, EBP, EBX][rm];
          d.ea_index = [ESI, EDI, ESI, EDI, -1, -1, -1, -1][rm];
          if (rm === 2 || rm === 3 || rm === 6) defseg = SS;
          if (mod === 1) d.disp = sx8(next());
          else if (mod === 2) d.disp = next() | (next() << 8);
        }
      } else {
        let base = rm;
        if (rm === 4) {
          const sib = next();
          const idx = (sib >>> 3) & 7;
          base = sib & 7;
          d.ea_scale = sib >>> 6;
          d.ea_index = idx === ESP ? -1 : idx;
        }
        if (base === EBP && mod === 0) {
          d.disp = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
        } else {
          d.ea_base = base;
          if (base === ESP || base === EBP) defseg = SS;
          if (mod === 1) d.disp = sx8(next());
          else if (mod === 2) d.disp = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
        }
      }
      d.ea_seg = d.seg >= 0 ? d.seg : defseg;
    }
  }
  let ik = IMM[op];
  if (ik === I_GRP3) ik = d.reg < 2 ? (op === 0xf6 ? I_B : I_Z) : I_NONE;
  switch (ik) {
    case I_B:
      d.imm = op === 0x83 ? sx8(next()) >>> 0 : next();
      break;
    case I_Z:
      d.imm = osize === 2 ? next() | (next() << 8) : (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
      break;
    case I_MOFFS:
      // The offset is address-sized and the operand is never based or indexed.
      d.disp = asize === 2 ? next() | (next() << 8) : (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
      break;
  }
  d.len = n;
  return d;
}

/** Effective address of the memory operand from the general registers, wrapped to the address size. */
export function x86_insn_ea(d: x86_insn, regs: Uint32Array): number {
  let a = d.disp;
  if (d.ea_base >= 0) a += regs[d.ea_base];
  if (d.ea_index >= 0) a += (regs[d.ea_index] << d.ea_scale) >>> 0;
  return d.asize === 2 ? a & 0xffff : a >>> 0;
}


// Instruction decoder: prefixes, opcode (one-byte and 0F maps), ModR/M, SIB, displacement
// and immediates, per SDM Vol. 2 chapter 2 and appendix A (the i386 integer ISA plus the
// later CMOV/CMPXCHG/XADD/BSWAP/CPUID/RDTSC/RDMSR/WRMSR). It only determines structure;
// the interpreter gives the semantics. An instruction is decoded once and cached (core.ts).

import { gp } from "./fault.js";
import { DS, SS, ES, CS, FS, GS, EBX, ESI, EDI, EBP, ESP } from "./state.js";

/** The bytes of the instruction being decoded; byte(i) faults as the fetch would. */
export interface ByteSource {
  byte(i: number): number;
}

/** What the opcode is, for the cases the interpreter must refuse before executing. */
export const CLS_OK = 0, CLS_UD = 1, CLS_X87 = 2, CLS_SSE = 3;

// Immediate operand kinds of the opcode maps.
const I_NONE = 0, I_B = 1, I_W = 2, I_Z = 3, I_PTR = 4, I_MOFFS = 5, I_WB = 6, I_GRP3 = 7;

/** A decoded instruction. Numeric fields only, so every Insn has one hidden class. */
export class Insn {
  /** 0x000-0x0ff: one-byte map; 0x100-0x1ff: 0F map. */
  opcode = 0;
  len = 0;
  cls = CLS_OK;
  /** CS.D the instruction was decoded under. */
  code32 = false;
  /** Operand size of v-sized operands, bytes (2 or 4). */
  osize = 2;
  /** Address size, bytes (2 or 4). */
  asize = 2;
  /** Segment override prefix, or -1. */
  seg = -1;
  /** 0 none, REP_E (F3: REP/REPE), REP_NE (F2). */
  rep = 0;
  lock = false;
  has_modrm = false;
  mod = 0;
  reg = 0;
  rm = 0;
  /** Effective address = base + (index << scale) + disp, masked to the address size. */
  ea_base = -1;
  ea_index = -1;
  ea_scale = 0;
  disp = 0;
  /** Segment of the memory operand: the override, else DS, or SS for BP/ESP/EBP-based forms. */
  ea_seg = DS;
  /** First immediate. Relative branch targets and sign-extended imm8 are signed; others unsigned. */
  imm = 0;
  /** Second immediate: the selector of a far pointer, the imm8 of ENTER. */
  imm2 = 0;
  /** The instruction bytes, to revalidate a cached decode against memory. */
  bytes: Uint8Array = EMPTY;
}
const EMPTY = new Uint8Array(0);
export const REP_E = 1, REP_NE = 2;

const MODRM = new Uint8Array(512);
const IMM = new Uint8Array(512);
const CLS = new Uint8Array(512);

function set(ops: number[], modrm: boolean, imm = I_NONE, cls = CLS_OK): void {
  for (const o of ops) { MODRM[o] = modrm ? 1 : 0; IMM[o] = imm; CLS[o] = cls; }
}
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

// One-byte map. 0x0f, prefixes (26 2e 36 3e 64 65 66 67 f0 f2 f3) are consumed before lookup.
for (let base = 0; base < 0x40; base += 8) {
  set([base, base + 1, base + 2, base + 3], true);
  set([base + 4], false, I_B);
  set([base + 5], false, I_Z);
}
set([0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f], false);
set(range(0x40, 0x61), false);
set([0x62, 0x63], true);
set([0x68], false, I_Z);
set([0x69], true, I_Z);
set([0x6a], false, I_B);
set([0x6b], true, I_B);
set(range(0x6c, 0x6f), false);
set(range(0x70, 0x7f), false, I_B);
set([0x80, 0x82, 0x83], true, I_B);
set([0x81], true, I_Z);
set(range(0x84, 0x8f), true);
set(range(0x90, 0x99), false);
set([0x9a], false, I_PTR);
set(range(0x9b, 0x9f), false);
set(range(0xa0, 0xa3), false, I_MOFFS);
set(range(0xa4, 0xa7), false);
set([0xa8], false, I_B);
set([0xa9], false, I_Z);
set(range(0xaa, 0xaf), false);
set(range(0xb0, 0xb7), false, I_B);
set(range(0xb8, 0xbf), false, I_Z);
set([0xc0, 0xc1], true, I_B);
set([0xc2], false, I_W);
set([0xc3], false);
set([0xc4, 0xc5], true);
set([0xc6], true, I_B);
set([0xc7], true, I_Z);
set([0xc8], false, I_WB);
set([0xc9], false);
set([0xca], false, I_W);
set([0xcb, 0xcc], false);
set([0xcd], false, I_B);
set([0xce, 0xcf], false);
set(range(0xd0, 0xd3), true);
set([0xd4, 0xd5], false, I_B);
set([0xd6, 0xd7], false);
set(range(0xd8, 0xdf), true, I_NONE, CLS_X87);
set(range(0xe0, 0xe7), false, I_B);
set([0xe8, 0xe9], false, I_Z);
set([0xea], false, I_PTR);
set([0xeb], false, I_B);
set(range(0xec, 0xef), false);
set([0xf1, 0xf4, 0xf5], false);
set([0xf6, 0xf7], true, I_GRP3);
set(range(0xf8, 0xfd), false);
set([0xfe, 0xff], true);

// 0F map: everything not listed is #UD.
for (let i = 0x100; i < 0x200; i++) CLS[i] = CLS_UD;
const T = (o: number) => 0x100 + o;
set([T(0x00), T(0x01), T(0x02), T(0x03)], true);
set([T(0x06), T(0x08), T(0x09)], false);
set([T(0x0b)], false, I_NONE, CLS_UD);
// 0F 18-0F 1F: PREFETCHh (0F 18 /0-/3) and the reserved hint NOPs, decoded with a
// ModR/M operand and executed as NOPs on every CPU since the Pentium Pro (SDM Vol. 2,
// "NOP"; ENDBR32 is F3 0F 1E FB, one of them).
set(range(T(0x18), T(0x1f)), true);
set(range(T(0x20), T(0x23)), true);
set([T(0x30), T(0x31), T(0x32), T(0x34), T(0x35)], false);
set(range(T(0x40), T(0x4f)), true);
set(range(T(0x80), T(0x8f)), false, I_Z);
set(range(T(0x90), T(0x9f)), true);
set([T(0xa0), T(0xa1), T(0xa2), T(0xa8), T(0xa9)], false);
set([T(0xa3), T(0xa5), T(0xab), T(0xad), T(0xaf)], true);
set([T(0xa4), T(0xac), T(0xba)], true, I_B);
set(range(T(0xb0), T(0xb7)), true);
set(range(T(0xbb), T(0xbf)), true);
set([T(0xc0), T(0xc1), T(0xc7)], true);
set(range(T(0xc8), T(0xcf)), false);
// MMX/SSE: structure known (for #NM/#UD), never executed: this CPU advertises neither.
set([...range(T(0x10), T(0x17)), ...range(T(0x28), T(0x2f)), ...range(T(0x50), T(0x6f)), ...range(T(0x74), T(0x76)),
  T(0x7e), T(0x7f), T(0xc3), ...range(T(0xd1), T(0xfe))].filter((o) => o !== T(0xd6) && o !== T(0xf0)), true, I_NONE, CLS_SSE);
set([...range(T(0x70), T(0x73)), T(0xc2), T(0xc4), T(0xc5), T(0xc6)], true, I_B, CLS_SSE);

// Instructions that accept LOCK (with a memory destination): SDM Vol. 2, LOCK.
const LOCKABLE = new Uint8Array(512);
for (const b of [0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30]) { LOCKABLE[b] = 1; LOCKABLE[b + 1] = 1; }
for (const o of [0x80, 0x81, 0x82, 0x83, 0x86, 0x87, 0xf6, 0xf7, 0xfe, 0xff, T(0xab), T(0xb3), T(0xbb), T(0xba), T(0xb0), T(0xb1), T(0xc0), T(0xc1), T(0xc7)]) LOCKABLE[o] = 1;

const sx8 = (v: number) => (v << 24) >> 24;
const sx16 = (v: number) => (v << 16) >> 16;

// 16-bit ModR/M base and index registers (rm 0-7) and the default segment.
const B16 = [EBX, EBX, EBP, EBP, ESI, EDI, EBP, EBX];
const X16 = [ESI, EDI, ESI, EDI, -1, -1, -1, -1];

/** Decode one instruction. `code32` is CS.D. Faults (#GP for more than 15 bytes, or the
 *  fetch's own #PF/#GP) propagate from `src`. */
export function decode(src: ByteSource, code32: boolean, d: Insn = new Insn()): Insn {
  let n = 0;
  const next = (): number => {
    if (n >= 15) gp(0);
    return src.byte(n++);
  };
  let osize = code32 ? 4 : 2, asize = osize;
  let seg = -1, rep = 0, lock = false;
  let b: number;
  for (;;) {
    b = next();
    switch (b) {
      case 0x26: seg = ES; continue;
      case 0x2e: seg = CS; continue;
      case 0x36: seg = SS; continue;
      case 0x3e: seg = DS; continue;
      case 0x64: seg = FS; continue;
      case 0x65: seg = GS; continue;
      case 0x66: osize = code32 ? 2 : 4; continue;
      case 0x67: asize = code32 ? 2 : 4; continue;
      case 0xf0: lock = true; continue;
      case 0xf2: rep = REP_NE; continue;
      case 0xf3: rep = REP_E; continue;
    }
    break;
  }
  let op = b;
  if (b === 0x0f) op = 0x100 + next();
  d.opcode = op;
  d.code32 = code32;
  d.osize = osize;
  d.asize = asize;
  d.seg = seg;
  d.rep = rep;
  d.lock = lock;
  d.cls = CLS[op];
  d.has_modrm = MODRM[op] === 1;
  d.mod = 3; d.reg = 0; d.rm = 0;
  d.ea_base = -1; d.ea_index = -1; d.ea_scale = 0; d.disp = 0;
  d.ea_seg = seg >= 0 ? seg : DS;
  d.imm = 0; d.imm2 = 0;
  if (d.has_modrm) {
    const m = next();
    // MOV to/from CRn/DRn ignore the mod field: the operand is always a register (SDM Vol. 2, MOV CR).
    const mod = op >= 0x120 && op <= 0x123 ? 3 : m >>> 6, reg = (m >>> 3) & 7, rm = m & 7;
    d.mod = mod; d.reg = reg; d.rm = rm;
    if (mod !== 3) {
      let defseg = DS;
      if (asize === 2) {
        if (mod === 0 && rm === 6) {
          d.disp = next() | (next() << 8);
        } else {
          d.ea_base = B16[rm];
          d.ea_index = X16[rm];
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
          d.ea_index = idx === 4 ? -1 : idx;
        }
        if (base === 5 && mod === 0) {
          d.ea_base = -1;
          d.disp = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
        } else {
          d.ea_base = base;
          if (base === ESP || base === EBP) defseg = SS;
          if (mod === 1) d.disp = sx8(next());
          else if (mod === 2) d.disp = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
        }
      }
      d.ea_seg = seg >= 0 ? seg : defseg;
    }
  }
  let ik = IMM[op];
  if (ik === I_GRP3) ik = d.reg < 2 ? (op === 0xf6 ? I_B : I_Z) : I_NONE;
  switch (ik) {
    case I_B: d.imm = next(); break;
    case I_W: d.imm = next() | (next() << 8); break;
    case I_Z:
      d.imm = osize === 2 ? next() | (next() << 8) : (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
      break;
    case I_PTR:
      d.imm = osize === 2 ? next() | (next() << 8) : (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
      d.imm2 = next() | (next() << 8);
      break;
    case I_MOFFS:
      d.disp = asize === 2 ? next() | (next() << 8) : (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
      break;
    case I_WB:
      d.imm = next() | (next() << 8);
      d.imm2 = next();
      break;
  }
  // Sign-extended forms: rel8 branches, imm8 of 6A/6B/83, rel16 branches.
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) || op === 0xeb || op === 0x6a || op === 0x6b || op === 0x83) {
    d.imm = sx8(d.imm);
  } else if (op === 0xe8 || op === 0xe9 || (op >= 0x180 && op <= 0x18f)) {
    d.imm = osize === 2 ? sx16(d.imm) : d.imm | 0;
  }
  d.len = n;
  validate(d);
  return d;
}

/** Forms the opcode maps reserve (#UD), independent of the operating mode. */
function validate(d: Insn): void {
  if (d.cls !== CLS_OK) return;
  const op = d.opcode, reg = d.reg, mem = d.mod !== 3;
  let bad = false;
  switch (op) {
    case 0x62: case 0xc4: case 0xc5: case 0x8d: case 0x1b2: case 0x1b4: case 0x1b5: bad = !mem; break;
    case 0x8c: bad = reg > 5; break;
    case 0x8e: bad = reg > 5 || reg === 1; break;
    case 0x8f: case 0xc6: case 0xc7: bad = reg !== 0; break;
    case 0xfe: bad = reg > 1; break;
    case 0xff: bad = reg === 7 || (!mem && (reg === 3 || reg === 5)); break;
    case 0x100: bad = reg > 5; break;
    case 0x101: bad = reg === 5 || (!mem && reg !== 4 && reg !== 6); break;
    case 0x121: case 0x123: break;
    case 0x120: case 0x122: bad = reg === 1 || reg > 4; break;
    case 0x1ba: bad = reg < 4; break;
    case 0x1c7: bad = reg !== 1 || !mem; break;
  }
  if (!bad && d.lock && (LOCKABLE[op] === 0 || !mem || (op === 0xfe && reg > 1) || (op === 0xff && reg > 1) ||
      ((op === 0xf6 || op === 0xf7) && reg !== 2 && reg !== 3) || (op >= 0x80 && op <= 0x83 && reg === 7) || (op === 0x1ba && reg === 4))) bad = true;
  if (bad) d.cls = CLS_UD;
}

/** Decode from a plain byte array (tests, disassembly): returns null on a length over 15 bytes. */
export function decode_bytes(bytes: ArrayLike<number>, code32: boolean): Insn | null {
  try {
    return decode({ byte: (i) => (i < bytes.length ? bytes[i] : 0) }, code32);
  } catch {
    return null;
  }
}

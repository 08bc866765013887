// Integer arithmetic with the status flags the SDM defines for it (Vol. 1 3.4.3.1 and each
// instruction's "Flags Affected"). Operand sizes are bytes (1, 2, 4); values are unsigned
// and below 2^(8*size).
//   CF  carry out of, or borrow into, the most significant bit
//   PF  the low byte of the result has an even number of 1 bits
//   AF  carry out of, or borrow into, bit 3
//   ZF  the result is zero;   SF  the most significant bit of the result
//   OF  signed overflow: the operands' signs make the result's sign impossible
// AND/OR/XOR/TEST leave AF undefined; this emulator clears it, as the simulated CPU does,
// so a guest sees the same flags whether an instruction ran natively or was emulated.
// INC/DEC leave CF alone. NEG sets CF unless the operand was 0.

export const EFLG_CF = 1 << 0;
export const EFLG_PF = 1 << 2;
export const EFLG_AF = 1 << 4;
export const EFLG_ZF = 1 << 6;
export const EFLG_SF = 1 << 7;
export const EFLG_DF = 1 << 10;
export const EFLG_OF = 1 << 11;
export const EFLG_RF = 1 << 16;
export const EFLG_VM = 1 << 17;
/** The six status flags arithmetic writes. */
export const EFLG_ARITH = EFLG_CF | EFLG_PF | EFLG_AF | EFLG_ZF | EFLG_SF | EFLG_OF;

export const SIZE_MASK = [0, 0xff, 0xffff, 0, 0xffffffff];
const SIGN = [0, 0x80, 0x8000, 0, 0x80000000];

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let ones = 0;
  for (let v = i; v !== 0; v >>= 1) ones += v & 1;
  PARITY[i] = (ones & 1) === 0 ? EFLG_PF : 0;
}

/** Whatever holds EFLAGS while an instruction executes. */
export interface eflags_holder {
  eflags: number;
}

function szp(res: number, size: number): number {
  return PARITY[res & 0xff] | (res === 0 ? EFLG_ZF : 0) | ((res & SIGN[size]) !== 0 ? EFLG_SF : 0);
}

function set_flags(h: eflags_holder, affected: number, f: number): void {
  h.eflags = ((h.eflags & ~affected) | f) >>> 0;
}

/** ADD / ADC: a + b + carry. */
export function em_add(h: eflags_holder, a: number, b: number, carry: number, size: number): number {
  const r = a + b + carry;
  const res = size === 4 ? r >>> 0 : r & SIZE_MASK[size];
  set_flags(h, EFLG_ARITH, szp(res, size) | (r > SIZE_MASK[size] ? EFLG_CF : 0) | ((a ^ b ^ res) & EFLG_AF) |
    ((((a ^ res) & (b ^ res) & SIGN[size]) >>> 0) !== 0 ? EFLG_OF : 0));
  return res;
}

/** SUB / SBB / CMP / NEG: a - b - borrow. */
export function em_sub(h: eflags_holder, a: number, b: number, borrow: number, size: number): number {
  const r = a - b - borrow;
  const res = size === 4 ? r >>> 0 : r & SIZE_MASK[size];
  set_flags(h, EFLG_ARITH, szp(res, size) | (a < b + borrow ? EFLG_CF : 0) | ((a ^ b ^ res) & EFLG_AF) |
    ((((a ^ b) & (a ^ res) & SIGN[size]) >>> 0) !== 0 ? EFLG_OF : 0));
  return res;
}

/** AND / OR / XOR / TEST: CF=OF=0, SF ZF PF from the result, AF cleared. */
export function em_logic(h: eflags_holder, res: number, size: number): number {
  const r = (res >>> 0) & SIZE_MASK[size];
  const v = size === 4 ? r >>> 0 : r;
  set_flags(h, EFLG_ARITH, szp(v, size));
  return v;
}

/** INC: as ADD 1 with CF preserved; OF when the result is the most negative value. */
export function em_inc(h: eflags_holder, a: number, size: number): number {
  const r = size === 4 ? (a + 1) >>> 0 : (a + 1) & SIZE_MASK[size];
  set_flags(h, EFLG_ARITH & ~EFLG_CF, szp(r, size) | ((a ^ r) & EFLG_AF) | (r === SIGN[size] ? EFLG_OF : 0));
  return r;
}

/** DEC: as SUB 1 with CF preserved; OF when the operand was the most negative value. */
export function em_dec(h: eflags_holder, a: number, size: number): number {
  const r = size === 4 ? (a - 1) >>> 0 : (a - 1) & SIZE_MASK[size];
  set_flags(h, EFLG_ARITH & ~EFLG_CF, szp(r, size) | ((a ^ r) & EFLG_AF) | (a === SIGN[size] ? EFLG_OF : 0));
  return r;
}

/** The group-1 / 00-3F operation selected by reg (or opcode bits 5:3): ADD OR ADC SBB AND SUB
 *  XOR CMP. Returns the result (for CMP, the unchanged destination). */
export function em_alu(h: eflags_holder, op: number, a: number, b: number, size: number): number {
  switch (op) {
    case 0: return em_add(h, a, b, 0, size);
    case 1: return em_logic(h, a | b, size);
    case 2: return em_add(h, a, b, h.eflags & EFLG_CF, size);
    case 3: return em_sub(h, a, b, h.eflags & EFLG_CF, size);
    case 4: return em_logic(h, a & b, size);
    case 5: return em_sub(h, a, b, 0, size);
    case 6: return em_logic(h, a ^ b, size);
    default: em_sub(h, a, b, 0, size); return a;
  }
}

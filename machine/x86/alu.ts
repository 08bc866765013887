// Integer arithmetic and the status flags it defines (SDM Vol. 1 3.4.3 and each
// instruction's "Flags Affected"):
//   CF  carry out of (or borrow into) the most significant bit
//   PF  the low byte of the result has an even number of 1 bits
//   AF  carry out of (or borrow into) bit 3
//   ZF  result is zero;  SF  most significant bit of the result
//   OF  signed overflow: the result's sign is wrong for the operands' signs
// Where the SDM leaves a flag undefined this model makes a fixed, documented choice
// (noted at each operation), so runs are deterministic.
// Operand sizes are in bytes: 1, 2 or 4. Values are unsigned numbers below 2^(8*size).

import type { Core } from "./core.js";
import { DE, fault } from "./fault.js";
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF } from "./state.js";

export const ARITH = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;
export const MASK = [0, 0xff, 0xffff, 0, 0xffffffff];
export const SIGN = [0, 0x80, 0x8000, 0, 0x80000000];

/** A value truncated to an operand size, as an unsigned number. (`x & 0xffffffff` is a
 *  signed 32-bit result in JavaScript, so dword operands go through >>> 0.) */
export const trunc = (v: number, size: number): number => (size === 4 ? v >>> 0 : v & MASK[size]);

export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = 0;
  for (let v = i; v !== 0; v >>= 1) b ^= v & 1;
  PARITY[i] = b === 0 ? FLAG_PF : 0;
}

/** SF, ZF and PF of a result. */
export function szp(res: number, size: number): number {
  return PARITY[res & 0xff] | (res === 0 ? FLAG_ZF : 0) | ((res & SIGN[size]) !== 0 ? FLAG_SF : 0);
}

function setf(c: Core, affected: number, f: number): void {
  c.s.eflags = (c.s.eflags & ~affected) | f;
}

export function add(c: Core, a: number, b: number, carry: number, size: number): number {
  const r = a + b + carry;
  const res = size === 4 ? r >>> 0 : r & MASK[size];
  setf(c, ARITH, szp(res, size) | (r > MASK[size] ? FLAG_CF : 0) | ((a ^ b ^ res) & FLAG_AF) |
    (((a ^ res) & (b ^ res) & SIGN[size]) !== 0 ? FLAG_OF : 0));
  return res;
}

export function sub(c: Core, a: number, b: number, borrow: number, size: number): number {
  const r = a - b - borrow;
  const res = size === 4 ? r >>> 0 : r & MASK[size];
  setf(c, ARITH, szp(res, size) | (a < b + borrow ? FLAG_CF : 0) | ((a ^ b ^ res) & FLAG_AF) |
    (((a ^ b) & (a ^ res) & SIGN[size]) !== 0 ? FLAG_OF : 0));
  return res;
}

/** AND/OR/XOR/TEST: CF=OF=0, SF ZF PF from the result; AF undefined (this model clears it). */
export function logic(c: Core, res: number, size: number): number {
  setf(c, ARITH, szp(res, size));
  return res;
}

/** INC/DEC: as ADD/SUB 1, but CF is preserved. */
export function inc(c: Core, a: number, size: number): number {
  const r = trunc(a + 1, size);
  setf(c, ARITH & ~FLAG_CF, szp(r, size) | ((a ^ r) & FLAG_AF) | (r === SIGN[size] ? FLAG_OF : 0));
  return r;
}
export function dec(c: Core, a: number, size: number): number {
  const r = trunc(a - 1, size);
  setf(c, ARITH & ~FLAG_CF, szp(r, size) | ((a ^ r) & FLAG_AF) | (a === SIGN[size] ? FLAG_OF : 0));
  return r;
}

/** ALU operation by the reg field of 80-83 / the opcode bits 5:3 of 00-3F: ADD OR ADC SBB AND SUB XOR CMP. */
export function alu(c: Core, op: number, a: number, b: number, size: number): number {
  switch (op) {
    case 0: return add(c, a, b, 0, size);
    case 1: return logic(c, (a | b) >>> 0, size);
    case 2: return add(c, a, b, c.s.eflags & FLAG_CF, size);
    case 3: return sub(c, a, b, c.s.eflags & FLAG_CF, size);
    case 4: return logic(c, (a & b) >>> 0, size);
    case 5: return sub(c, a, b, 0, size);
    case 6: return logic(c, (a ^ b) >>> 0, size);
    default: sub(c, a, b, 0, size); return a;
  }
}

/** Group 2 (C0 C1 D0-D3): ROL ROR RCL RCR SHL SHR SAL(=SHL) SAR. `count` is already masked
 *  to 5 bits (386 and later). A zero count changes nothing, flags included. Rotates change
 *  only CF and OF. OF is defined for a count of 1; for larger counts this model applies
 *  the same formula to the final values. Shifts: AF undefined, this model clears it. */
export function shift(c: Core, op: number, val: number, count: number, size: number): number {
  if (count === 0) return val;
  const w = size * 8, mask = MASK[size], msb = w - 1;
  const f = c.s.eflags;
  let res: number, cf: number, of: number;
  switch (op) {
    case 0: { // ROL
      const n = count % w;
      res = n === 0 ? val : (((val << n) | (val >>> (w - n))) & mask) >>> 0;
      cf = res & 1;
      of = ((res >>> msb) ^ cf) & 1;
      setf(c, FLAG_CF | FLAG_OF, (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
      return res;
    }
    case 1: { // ROR
      const n = count % w;
      res = n === 0 ? val : (((val >>> n) | (val << (w - n))) & mask) >>> 0;
      cf = (res >>> msb) & 1;
      of = cf ^ ((res >>> (msb - 1)) & 1);
      setf(c, FLAG_CF | FLAG_OF, (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
      return res;
    }
    case 2: { // RCL: rotate the (w+1)-bit quantity CF:val, count mod (w+1)
      const n = size === 4 ? count : count % (w + 1);
      res = val; cf = f & FLAG_CF;
      for (let i = 0; i < n; i++) {
        const out = (res >>> msb) & 1;
        res = (((res << 1) | cf) & mask) >>> 0;
        cf = out;
      }
      of = ((res >>> msb) ^ cf) & 1;
      setf(c, FLAG_CF | FLAG_OF, (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
      return res;
    }
    case 3: { // RCR
      const n = size === 4 ? count : count % (w + 1);
      res = val; cf = f & FLAG_CF;
      for (let i = 0; i < n; i++) {
        const out = res & 1;
        res = ((res >>> 1) | (cf << msb)) >>> 0;
        cf = out;
      }
      of = ((res >>> msb) ^ (res >>> (msb - 1))) & 1;
      setf(c, FLAG_CF | FLAG_OF, (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
      return res;
    }
    case 4: case 6: { // SHL/SAL: CF = last bit shifted out; OF = MSB(result) XOR CF
      if (count <= w) {
        res = ((val << count) & mask) >>> 0;
        if (count === 32) res = 0;
        cf = (val >>> (w - count)) & 1;
        if (count === w) cf = val & 1;
      } else { res = 0; cf = 0; }
      of = ((res >>> msb) & 1) ^ cf;
      break;
    }
    case 5: { // SHR: OF = MSB of the original operand
      if (count <= w) { res = val >>> count; cf = (val >>> (count - 1)) & 1; if (count === 32) res = 0; }
      else { res = 0; cf = 0; }
      of = (val >>> msb) & 1;
      break;
    }
    default: { // SAR: OF = 0
      const sv = (val << (32 - w)) >> (32 - w);
      res = ((sv >> Math.min(count, 31)) & mask) >>> 0;
      cf = (sv >> Math.min(count - 1, 31)) & 1;
      of = 0;
      break;
    }
  }
  setf(c, ARITH, szp(res, size) | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
  return res;
}

/** SHLD/SHRD (count masked to 5 bits by the caller). CF = last bit shifted out of dest;
 *  OF = sign change (defined for count 1); AF undefined (cleared). A 16-bit count above 16
 *  gives an undefined result; this model shifts through dest:src:dest as P6-family parts do. */
export function shld(c: Core, dest: number, src: number, count: number, size: number, right: boolean): number {
  if (count === 0) return dest;
  const w = BigInt(size * 8), n = BigInt(count), m = (1n << w) - 1n;
  const d = BigInt(dest), s = BigInt(src);
  let res: bigint, cf: bigint;
  if (!right) {
    const x = (((d << w) | s) << w) | d; // dest:src:dest
    const sh = x << n;
    res = (sh >> (2n * w)) & m;
    cf = (sh >> (3n * w)) & 1n;
  } else {
    const x = (((d << w) | s) << w) | d; // dest:src:dest, shifted right from the bottom dest
    res = (x >> n) & m;
    cf = (x >> (n - 1n)) & 1n;
  }
  const r = Number(res);
  const msb = size * 8 - 1;
  const of = ((r >>> msb) ^ (dest >>> msb)) & 1;
  setf(c, ARITH, szp(r, size) | (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0));
  return r >>> 0;
}

// ---- multiply and divide ---------------------------------------------------------------

/** MUL: CF=OF=1 iff the upper half of the product is nonzero. SF ZF PF AF undefined: this
 *  model sets SF ZF PF from the lower half and clears AF. Returns [low, high] via c.mul_hi. */
export function mul(c: Core, a: number, b: number, size: number, signed: boolean): number {
  let lo: number, hi: number, ovf: boolean;
  if (size === 4) {
    const p = signed ? BigInt(a | 0) * BigInt(b | 0) : BigInt(a) * BigInt(b);
    lo = Number(p & 0xffffffffn);
    hi = Number((p >> 32n) & 0xffffffffn);
    ovf = signed ? p !== BigInt(lo | 0) : hi !== 0;
  } else {
    const w = size * 8, sh = 32 - w;
    const p = signed ? ((a << sh) >> sh) * ((b << sh) >> sh) : a * b;
    lo = trunc(p, size);
    hi = trunc(Math.floor(p / 2 ** w), size);
    ovf = signed ? ((lo << sh) >> sh) !== p : hi !== 0;
  }
  setf(c, ARITH, szp(lo, size) | (ovf ? FLAG_CF | FLAG_OF : 0));
  mul_hi = hi;
  return lo;
}
/** Upper half of the last mul(). */
export let mul_hi = 0;

/** DIV/IDIV of hi:lo by `div`: #DE on a zero divisor or a quotient that does not fit.
 *  Flags are undefined; this model leaves them unchanged. Remainder in div_rem. */
export function divide(hi: number, lo: number, dv: number, size: number, signed: boolean): number {
  if (dv === 0) fault(DE);
  const w = size * 8;
  let q: number, r: number;
  if (size === 4) {
    let n = (BigInt(hi) << 32n) | BigInt(lo);
    let d = BigInt(dv);
    if (signed) { n = BigInt.asIntN(64, n); d = BigInt(dv | 0); }
    const bq = n / d, br = n % d;
    if (signed ? bq > 0x7fffffffn || bq < -0x80000000n : bq > 0xffffffffn) fault(DE);
    q = Number(BigInt.asUintN(32, bq)); r = Number(BigInt.asUintN(32, br));
  } else {
    let n = hi * (1 << w) + lo;
    let d = dv;
    if (signed) {
      const sh = 32 - w;
      n = ((n << (32 - 2 * w)) >> (32 - 2 * w)) | 0;
      if (size === 2) n = (hi << 16 | lo) | 0;
      d = (dv << sh) >> sh;
    }
    const tq = Math.trunc(n / d), tr = n - tq * d;
    const max = signed ? (1 << (w - 1)) - 1 : MASK[size], min = signed ? -(1 << (w - 1)) : 0;
    if (tq > max || tq < min) fault(DE);
    q = trunc(tq, size); r = trunc(tr, size);
  }
  div_rem = r;
  return q;
}
export let div_rem = 0;

// Logical (segment:offset) memory access. Linear address = segment base + offset, after
// the segment's limit and type checks (SDM Vol. 3A 5.3 and 5.4): an offset outside the
// segment, or a write to a read-only or code segment, is #GP(0) — #SS(0) when the segment
// is SS. Real mode checks the limit too (a 386 faults on a word at offset 0xffff where
// the 8086 wrapped within the segment).

import { Core, SEG_R, SEG_W } from "./core.js";
import { gp, ss_fault } from "./fault.js";
import { lin_read16, lin_read32, lin_read8, lin_write16, lin_write32, lin_write8 } from "./mmu.js";
import { SS } from "./state.js";
import { data_bp } from "./debug.js";

function seg_fault(sreg: number): never {
  return sreg === SS ? ss_fault(0) : gp(0);
}

// Data breakpoints (debug.ts) match the linear address computed here.
export function lin_for_read(c: Core, sreg: number, off: number, size: number): number {
  if (off < c.slo[sreg] || off + size - 1 > c.shi[sreg] || (c.sperm[sreg] & SEG_R) === 0) seg_fault(sreg);
  const lin = (c.sbase[sreg] + off) >>> 0;
  if (c.bp_data !== 0) data_bp(c, lin, size, false);
  return lin;
}

export function lin_for_write(c: Core, sreg: number, off: number, size: number): number {
  if (off < c.slo[sreg] || off + size - 1 > c.shi[sreg] || (c.sperm[sreg] & SEG_W) === 0) seg_fault(sreg);
  const lin = (c.sbase[sreg] + off) >>> 0;
  if (c.bp_data !== 0) data_bp(c, lin, size, true);
  return lin;
}

export function rd8(c: Core, sreg: number, off: number): number {
  return lin_read8(c, lin_for_read(c, sreg, off, 1));
}
export function rd16(c: Core, sreg: number, off: number): number {
  return lin_read16(c, lin_for_read(c, sreg, off, 2));
}
export function rd32(c: Core, sreg: number, off: number): number {
  return lin_read32(c, lin_for_read(c, sreg, off, 4));
}
export function wr8(c: Core, sreg: number, off: number, v: number): void {
  lin_write8(c, lin_for_write(c, sreg, off, 1), v);
}
export function wr16(c: Core, sreg: number, off: number, v: number): void {
  lin_write16(c, lin_for_write(c, sreg, off, 2), v);
}
export function wr32(c: Core, sreg: number, off: number, v: number): void {
  lin_write32(c, lin_for_write(c, sreg, off, 4), v);
}

export function rd(c: Core, sreg: number, off: number, size: number): number {
  return size === 1 ? rd8(c, sreg, off) : size === 2 ? rd16(c, sreg, off) : rd32(c, sreg, off);
}
export function wr(c: Core, sreg: number, off: number, size: number, v: number): void {
  if (size === 1) wr8(c, sreg, off, v);
  else if (size === 2) wr16(c, sreg, off, v);
  else wr32(c, sreg, off, v);
}

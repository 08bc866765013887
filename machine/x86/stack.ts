// The stack: SS:ESP when SS.B=1, SS:SP otherwise (SDM Vol. 1 6.2). A push writes below
// the stack pointer and commits the new pointer only after the store succeeded, so a
// faulting push leaves ESP unchanged.

import type { Core } from "./core.js";
import { rd, wr } from "./segmem.js";
import { ESP, SS } from "./state.js";

export function push(c: Core, v: number, size: number): void {
  const g = c.s.gpr;
  if (c.stack32) {
    const nsp = (g[ESP] - size) >>> 0;
    wr(c, SS, nsp, size, v);
    g[ESP] = nsp;
  } else {
    const nsp = (g[ESP] - size) & 0xffff;
    wr(c, SS, nsp, size, v);
    g[ESP] = (g[ESP] & 0xffff0000) | nsp;
  }
}

export function pop(c: Core, size: number): number {
  const g = c.s.gpr;
  if (c.stack32) {
    const v = rd(c, SS, g[ESP], size);
    g[ESP] = (g[ESP] + size) >>> 0;
    return v;
  }
  const sp = g[ESP] & 0xffff;
  const v = rd(c, SS, sp, size);
  g[ESP] = (g[ESP] & 0xffff0000) | ((sp + size) & 0xffff);
  return v;
}

/** Read the stack `depth` bytes above the stack pointer without popping. */
export function peek(c: Core, depth: number, size: number): number {
  const g = c.s.gpr;
  const off = c.stack32 ? (g[ESP] + depth) >>> 0 : (g[ESP] + depth) & 0xffff;
  return rd(c, SS, off, size);
}

/** Add to the stack pointer (RET imm16, LEAVE-style adjustments). */
export function sp_add(c: Core, n: number): void {
  const g = c.s.gpr;
  if (c.stack32) g[ESP] = (g[ESP] + n) >>> 0;
  else g[ESP] = (g[ESP] & 0xffff0000) | ((g[ESP] + n) & 0xffff);
}

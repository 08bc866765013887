// String instructions (MOVS CMPS STOS LODS SCAS INS OUTS) and the REP prefixes (SDM Vol. 2,
// REP/REPE/REPNE). Source DS:(E)SI, overridable; destination ES:(E)DI, never overridden.
// (E)SI/(E)DI step by the operand size, down when EFLAGS.DF=1. The address size picks SI/DI/CX
// or ESI/EDI/ECX. With REP the count register is tested before each iteration; REPE/REPNE
// on CMPS/SCAS also stop when ZF becomes 0/1. Each iteration commits its registers, so a
// fault mid-string restarts at the faulting element. A long REP yields after CHUNK elements
// with EIP still on the instruction, as hardware lets interrupts in between iterations.
// DIVERGENCE: hardware pushes RF=1 for an interrupt taken between iterations; this CPU sets
// RF only when a data breakpoint ends the chunk (an instruction breakpoint on a long REP
// string instruction interrupted by an IRQ strikes again).

import type { Core } from "./core.js";
import type { Insn } from "./decode.js";
import { REP_E, REP_NE } from "./decode.js";
import { sub } from "./alu.js";
import { rd, wr } from "./segmem.js";
import { DS, ECX, EDI, ESI, ES, EAX, EDX, FLAG_DF, FLAG_RF, FLAG_ZF } from "./state.js";
import { reg_get, reg_set } from "./regs.js";

const CHUNK = 4096;

/** Executes the string instruction; returns true when it finished (EIP may advance). */
export function string_op(c: Core, d: Insn, op: number, size: number): boolean {
  const s = c.s, g = s.gpr;
  const a32 = d.asize === 4;
  const amask = a32 ? 0xffffffff : 0xffff;
  const step = (s.eflags & FLAG_DF) !== 0 ? -size : size;
  const src = d.seg >= 0 ? d.seg : DS;
  const rep = d.rep;
  const cmp = (op & 0xfe) === 0xa6 || (op & 0xfe) === 0xae;
  let n = 0;
  for (;;) {
    if (rep !== 0) {
      const cnt = a32 ? g[ECX] : g[ECX] & 0xffff;
      if (cnt === 0) return true;
      if (n === CHUNK) return false;
    }
    // >>> 0: ESI/EDI of 2^31 and above are addresses, not negative numbers.
    const si = (g[ESI] & amask) >>> 0, di = (g[EDI] & amask) >>> 0;
    switch (op) {
      case 0xa4: case 0xa5: { // MOVS
        const v = rd(c, src, si, size);
        wr(c, ES, di, size, v);
        adv(g, ESI, step, a32); adv(g, EDI, step, a32);
        break;
      }
      case 0xa6: case 0xa7: { // CMPS: flags of [src] - [dest]
        const a = rd(c, src, si, size), b = rd(c, ES, di, size);
        sub(c, a, b, 0, size);
        adv(g, ESI, step, a32); adv(g, EDI, step, a32);
        break;
      }
      case 0xaa: case 0xab: // STOS
        wr(c, ES, di, size, reg_get(g, EAX, size));
        adv(g, EDI, step, a32);
        break;
      case 0xac: case 0xad: // LODS
        reg_set(g, EAX, size, rd(c, src, si, size));
        adv(g, ESI, step, a32);
        break;
      case 0xae: case 0xaf: // SCAS: flags of accumulator - [dest]
        sub(c, reg_get(g, EAX, size), rd(c, ES, di, size), 0, size);
        adv(g, EDI, step, a32);
        break;
      case 0x6c: case 0x6d: { // INS: the destination is probed before the port is read
        wr(c, ES, di, size, rd(c, ES, di, size));
        wr(c, ES, di, size, c.bus.io_in(g[EDX] & 0xffff, size as 1 | 2 | 4));
        adv(g, EDI, step, a32);
        break;
      }
      default: { // OUTS
        c.bus.io_out(g[EDX] & 0xffff, size as 1 | 2 | 4, rd(c, src, si, size));
        adv(g, ESI, step, a32);
        break;
      }
    }
    if (rep === 0) return true;
    if (a32) g[ECX] = g[ECX] - 1;
    else g[ECX] = (g[ECX] & 0xffff0000) | ((g[ECX] - 1) & 0xffff);
    n++;
    if (cmp) {
      const zf = (s.eflags & FLAG_ZF) !== 0;
      if ((rep === REP_E && !zf) || (rep === REP_NE && zf)) return true;
    }
    // A data or I/O breakpoint this iteration met is reported after it (SDM 17.3.1.2): stop
    // with EIP on the instruction unless that was the last iteration, and RF=1 so that an
    // instruction breakpoint on it does not strike again when it resumes (SDM 17.3.1.1).
    if (c.bp_hits !== 0) {
      if ((a32 ? g[ECX] : g[ECX] & 0xffff) === 0) return true;
      s.eflags = (s.eflags | FLAG_RF) >>> 0;
      return false;
    }
  }
}

function adv(g: Uint32Array, r: number, step: number, a32: boolean): void {
  if (a32) g[r] = g[r] + step;
  else g[r] = (g[r] & 0xffff0000) | ((g[r] + step) & 0xffff);
}

// Debug-register breakpoints (SDM Vol. 3B 17.2 and 17.3). DR0-DR3 hold linear addresses
// (after segmentation, before paging); DR7 enables each one (Ln or Gn: local and global act
// alike, as task switches are not modelled) and gives its condition R/Wn and length LENn:
//   R/W 00 instruction execution: a fault before the instruction executes, unless EFLAGS.RF
//          is set (RF is cleared as the instruction starts, after this check). LEN is
//          ignored: the address must equal the instruction's first byte (as QEMU does; the
//          SDM asks for LEN 00 and leaves other lengths undefined).
//   R/W 01 data writes, 11 data reads or writes: a trap after the instruction (after the
//          iteration, for REP string instructions) whose access overlapped the LEN-byte
//          range DRn rounds down to (LEN 00 1, 01 2, 11 4 bytes; 10 8 bytes, as on the
//          processors that define it: on 32-bit ones it is undefined).
//   R/W 10 I/O reads or writes with CR4.DE=1 (a trap after IN/OUT/INS/OUTS to an
//          overlapping port range). With CR4.DE=0 the encoding is undefined: this CPU
//          never matches it.
// DR6 on delivery: B0-B3 name exactly the enabled breakpoints that caused this #DB (the SDM
// lets processors clear B0-B3 and does not promise bits for disabled breakpoints: this CPU
// never sets them for those); BS (single-step) and BD (general detect) are set and stay
// set until software clears them. DR7.GD makes any MOV DR a #DB fault with BD set, and the
// delivery clears GD so the handler may use the debug registers.
//
// A #DB that the VMX exception bitmap intercepts is a VM exit instead: DR6 is not written
// and DR7.GD not cleared; the exit qualification carries B0-B3, BD and BS (SDM 27.1, 27.2.1).
//
// Speed: execute() looks at Core.bp_any (any enabled breakpoint) before anything else
// here; data and I/O accesses look at bp_data / bp_io.

import type { Stop } from "./cpu.js";
import type { Core } from "./core.js";
import { DB, X86Fault } from "./fault.js";
import { EV_HW_EXCEPTION, deliver_event } from "./exceptions.js";
import { FLAG_RF } from "./state.js";

export const DR6_B_MASK = 0xf;
export const DR6_BD = 1 << 13;
export const DR6_BS = 1 << 14;
/** DR6 bits that always read as 1 (bits 4-11 and 16-31). */
export const DR6_FIXED_1 = 0xffff0ff0;
export const DR7_GD = 1 << 13;
/** DR7 bit 10 always reads as 1; bits 11, 12, 14, 15 as 0. */
export const DR7_FIXED_1 = 0x400;
export const CR4_DE = 1 << 3;

/** How the #DB relates to its instruction: an instruction breakpoint (a fault that pushes
 *  the current RF), general detect (a fault: pushes RF=1), or a trap after the instruction. */
export const DB_INSN_BP = 0, DB_GENERAL_DETECT = 1, DB_TRAP = 2;

/** Recompute which breakpoints DR7 (and CR4.DE) enable: after a write of DR7 or CR4, and
 *  at Core.sync() (VM entry and exit load DR7). */
export function sync_debug(c: Core): void {
  const dr7 = c.s.dr[7];
  const de = (c.s.cr4 & CR4_DE) !== 0;
  let x = 0, d = 0, io = 0;
  for (let i = 0; i < 4; i++) {
    if (((dr7 >>> (2 * i)) & 3) === 0) continue;
    const rw = (dr7 >>> (16 + 4 * i)) & 3;
    if (rw === 0) x |= 1 << i;
    else if (rw === 2) { if (de) io |= 1 << i; }
    else d |= 1 << i;
  }
  c.bp_exec = x;
  c.bp_data = d;
  c.bp_io = io;
  c.bp_any = x | d | io;
}

function bp_len(dr7: number, i: number): number {
  const l = (dr7 >>> (18 + 4 * i)) & 3;
  return l === 0 ? 1 : l === 1 ? 2 : l === 3 ? 4 : 8;
}

/** Does [a, a+alen) overlap [b, b+blen), modulo 2^32? */
function overlap(a: number, alen: number, b: number, blen: number): boolean {
  return ((a - b) >>> 0) < blen || ((b - a) >>> 0) < alen;
}

/** Enabled instruction breakpoints at linear address `lin`. */
export function exec_bp_hits(c: Core, lin: number): number {
  let hits = 0;
  for (let i = 0; i < 4; i++) if (((c.bp_exec >>> i) & 1) !== 0 && c.s.dr[i] >>> 0 === lin) hits |= 1 << i;
  return hits;
}

/** A data access of `size` bytes at `lin`: note the data breakpoints it meets (reported
 *  after the instruction). Called only when bp_data is non-zero. */
export function data_bp(c: Core, lin: number, size: number, write: boolean): void {
  const dr7 = c.s.dr[7];
  for (let i = 0; i < 4; i++) {
    if (((c.bp_data >>> i) & 1) === 0) continue;
    if (!write && ((dr7 >>> (16 + 4 * i)) & 3) === 1) continue;
    const len = bp_len(dr7, i);
    if (overlap(lin, size, (c.s.dr[i] & ~(len - 1)) >>> 0, len)) c.bp_hits |= 1 << i;
  }
}

/** An I/O access of `size` bytes at `port`: note the I/O breakpoints it meets. */
export function io_bp(c: Core, port: number, size: number): void {
  const dr7 = c.s.dr[7];
  for (let i = 0; i < 4; i++) {
    if (((c.bp_io >>> i) & 1) === 0) continue;
    const len = bp_len(dr7, i);
    const a = (c.s.dr[i] & 0xffff & ~(len - 1)) >>> 0;
    if (port < a + len && a < port + size) c.bp_hits |= 1 << i;
  }
}

/** The general-detect fault: a MOV DR while DR7.GD=1. handle_fault() turns it into
 *  debug_exception(BD). No other #DB is thrown. */
export function general_detect(): never {
  throw new X86Fault(DB, null);
}

/** Raise #DB for the conditions in `cause` (DR6 layout: B0-B3, BD, BS). Exits if the
 *  exception bitmap intercepts #DB; otherwise updates DR6 (and DR7.GD) and delivers it,
 *  with EIP as it stands (the instruction for faults, the next one for traps). */
export function debug_exception(c: Core, cause: number, kind: number): Stop | null {
  const s = c.s;
  c.cpu.last_event_vector = DB;
  const vmx = c.cpu.vmx;
  // A fault-class #DB other than an instruction breakpoint pushes (or, on a VM exit,
  // saves) RF=1 (SDM 6.8.3, 27.3.3).
  if (kind === DB_GENERAL_DETECT) s.eflags = (s.eflags | FLAG_RF) >>> 0;
  if (vmx !== null && (vmx.exception_bitmap & (1 << DB)) !== 0) {
    c.delivering = -1;
    return { kind: "exception", vector: DB, error_code: null, dr6: cause };
  }
  const b = cause & DR6_B_MASK;
  s.dr[6] = ((b !== 0 ? (s.dr[6] & ~DR6_B_MASK) | b : s.dr[6]) | (cause & (DR6_BD | DR6_BS)) | DR6_FIXED_1) >>> 0;
  if ((cause & DR6_BD) !== 0) {
    s.dr[7] = (s.dr[7] & ~DR7_GD) >>> 0;
    sync_debug(c);
  }
  return deliver_event(c, DB, null, EV_HW_EXCEPTION, s.eip);
}

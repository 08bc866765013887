// Segmentation in protected mode: descriptor tables, segment-register loads and their
// checks, far JMP/CALL/RET, IRET, interrupt and trap gates through the IDT, call gates,
// and the inner-stack switch through the TSS (SDM Vol. 3A chapters 3, 5, 6, 7).
//
// Segment descriptor (8 bytes): limit 15:0 in bytes 0-1, base 23:0 in bytes 2-4, access
// byte 5 = type[3:0] S[4] DPL[6:5] P[7], byte 6 = limit 19:16 [3:0] AVL[4] L[5] D/B[6] G[7],
// base 31:24 in byte 7. With G=1 the limit is in 4 KiB units (limit << 12 | 0xfff).
// Gate descriptor: offset 15:0, selector, byte 4 = parameter count (call gates), byte 5 =
// type/DPL/P, offset 31:16 (386 gates). Types: 4 286 call gate, 5 task gate, 6/7 286
// interrupt/trap gate, 12 386 call gate, 14/15 386 interrupt/trap gate; 1/3 286 TSS
// available/busy, 9/11 386 TSS, 2 LDT.
// Selector: index 15:3, TI[2] (1 = LDT), RPL 1:0. Error codes carry the selector with EXT in bit 0.

import type { Stop } from "./cpu.js";
import type { Core } from "./core.js";
import type { Insn } from "./decode.js";
import { gp, np, ss_fault, ts, ud } from "./fault.js";
import { sys_read, sys_write } from "./mmu.js";
import { rd, wr } from "./segmem.js";
import { push, sp_add } from "./stack.js";
import { reg_get, reg_set } from "./regs.js";
import { write_flags } from "./interp.js";
import { lmsw, smsw_value } from "./control.js";
import {
  CS, DS, ES, FS, GS, SS, ESP, FLAG_IF, FLAG_NT, FLAG_RF, FLAG_TF, FLAG_VM, FLAG_ZF, type SegmentReg,
} from "./state.js";

// Descriptor words of the last fetch_desc().
let dlo = 0, dhi = 0;

export const desc_base = (lo: number, hi: number): number => ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
export function desc_limit(lo: number, hi: number): number {
  const l = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & 0x800000) !== 0 ? ((l << 12) | 0xfff) >>> 0 : l;
}
/** VMX access-rights format from descriptor bytes 5 and 6. */
export const desc_attrib = (hi: number): number => (hi >>> 8) & 0xf0ff;

function seg_from(sel: number, lo: number, hi: number): SegmentReg {
  return { selector: sel & 0xffff, base: desc_base(lo, hi), limit: desc_limit(lo, hi), attrib: desc_attrib(hi) };
}

/** Read the descriptor a selector names; #GP(selector) (or `vec`) when it is outside its table. */
function fetch_desc(c: Core, sel: number, vec_ts = false): void {
  const s = c.s;
  const ldt = (sel & 4) !== 0;
  if (ldt && (s.ldtr.attrib & 0x10000) !== 0) (vec_ts ? ts : gp)(sel & 0xfffc);
  const base = ldt ? s.ldtr.base : s.gdtr.base;
  const limit = ldt ? s.ldtr.limit : s.gdtr.limit;
  const idx = sel & 0xfff8;
  if (idx + 7 > limit) (vec_ts ? ts : gp)(sel & 0xfffc);
  dlo = sys_read(c, base + idx, 4);
  dhi = sys_read(c, base + idx + 4, 4);
}

function desc_addr(c: Core, sel: number): number {
  return (((sel & 4) !== 0 ? c.s.ldtr.base : c.s.gdtr.base) + (sel & 0xfff8)) >>> 0;
}

/** Set the accessed bit (type bit 0) of a code/data descriptor in memory. */
function set_accessed(c: Core, sel: number): void {
  if ((dhi & 0x100) === 0) {
    dhi = (dhi | 0x100) >>> 0;
    sys_write(c, desc_addr(c, sel) + 4, 4, dhi);
  }
}

function set_seg(c: Core, sreg: number, sg: SegmentReg): void {
  c.s.seg[sreg] = sg;
  c.sync_seg(sreg);
  if (sreg === CS || sreg === SS) c.sync_mode();
}

/** Real-address mode (and VMX real mode): the base is selector << 4; limit and attributes stay. */
export function load_real_seg(c: Core, sreg: number, sel: number): void {
  const sg = c.s.seg[sreg];
  c.s.seg[sreg] = { selector: sel & 0xffff, base: (sel & 0xffff) << 4, limit: sg.limit, attrib: sg.attrib & ~0x10000 };
  c.sync_seg(sreg);
}

const NULL_SEG = (sel: number): SegmentReg => ({ selector: sel & 0xffff, base: 0, limit: 0, attrib: 0x10000 });

/** MOV/POP/LDS-family segment loads (SDM Vol. 2 MOV, "Loading a segment register in protected mode"). */
export function load_seg(c: Core, sreg: number, sel: number): void {
  sel &= 0xffff;
  if (!c.pe) { load_real_seg(c, sreg, sel); if (sreg === SS) c.sync_mode(); return; }
  if ((sel & 0xfffc) === 0) {
    if (sreg === SS) gp(0);
    set_seg(c, sreg, NULL_SEG(sel));
    return;
  }
  fetch_desc(c, sel);
  const a = desc_attrib(dhi), rpl = sel & 3, dpl = (a >>> 5) & 3, type = a & 0xf, cpl = c.cpl;
  const ec = sel & 0xfffc;
  if (sreg === SS) {
    // SS: a writable data segment with RPL = DPL = CPL.
    if (rpl !== cpl || dpl !== cpl || (a & 0x10) === 0 || (type & 8) !== 0 || (type & 2) === 0) gp(ec);
    if ((a & 0x80) === 0) ss_fault(ec);
  } else {
    // DS ES FS GS: data or readable code; unless conforming code, DPL >= max(CPL, RPL).
    if ((a & 0x10) === 0 || ((type & 8) !== 0 && (type & 2) === 0)) gp(ec);
    if ((type & 8) === 0 || (type & 4) === 0) {
      if (rpl > dpl || cpl > dpl) gp(ec);
    }
    if ((a & 0x80) === 0) np(ec);
  }
  set_accessed(c, sel);
  set_seg(c, sreg, seg_from(sel, dlo, dhi));
}

/** Code-segment checks for a direct far JMP/CALL to `sel`. */
function check_code_direct(c: Core, sel: number): void {
  const a = desc_attrib(dhi), dpl = (a >>> 5) & 3, type = a & 0xf, ec = sel & 0xfffc;
  if ((type & 4) !== 0) { if (dpl > c.cpl) gp(ec); }
  else if ((sel & 3) > c.cpl || dpl !== c.cpl) gp(ec);
  if ((a & 0x80) === 0) np(ec);
}

function load_cs(c: Core, sel: number, lo: number, hi: number, cpl: number): void {
  const sg = seg_from((sel & 0xfffc) | cpl, lo, hi);
  sg.attrib |= 1;
  c.s.seg[CS] = sg;
  c.sync_seg(CS);
  c.sync_mode();
}

function check_eip(c: Core, eip: number, limit: number): void {
  if (eip > limit) gp(0);
}

export function far_jmp(c: Core, sel: number, off: number, os: number): void {
  if (!c.pe) {
    if (off > c.s.seg[CS].limit) gp(0);
    load_real_seg(c, CS, sel);
    c.next_eip = off;
    return;
  }
  if ((sel & 0xfffc) === 0) gp(0);
  fetch_desc(c, sel);
  const a = desc_attrib(dhi);
  if ((a & 0x18) === 0x18) {
    check_code_direct(c, sel);
    const lim = desc_limit(dlo, dhi);
    check_eip(c, off, lim);
    set_accessed(c, sel);
    load_cs(c, sel, dlo, dhi, c.cpl);
    c.next_eip = off;
    return;
  }
  const type = a & 0x1f;
  if (type === 4 || type === 12) {
    const gdpl = (a >>> 5) & 3;
    if (gdpl < c.cpl || gdpl < (sel & 3)) gp(sel & 0xfffc);
    if ((a & 0x80) === 0) np(sel & 0xfffc);
    const tsel = dlo >>> 16;
    const toff = type === 12 ? ((dlo & 0xffff) | (dhi & 0xffff0000)) >>> 0 : dlo & 0xffff;
    if ((tsel & 0xfffc) === 0) gp(0);
    fetch_desc(c, tsel);
    const ta = desc_attrib(dhi), tdpl = (ta >>> 5) & 3;
    if ((ta & 0x18) !== 0x18) gp(tsel & 0xfffc);
    if ((ta & 4) !== 0 ? tdpl > c.cpl : tdpl !== c.cpl) gp(tsel & 0xfffc);
    if ((ta & 0x80) === 0) np(tsel & 0xfffc);
    check_eip(c, toff, desc_limit(dlo, dhi));
    set_accessed(c, tsel);
    load_cs(c, tsel, dlo, dhi, c.cpl);
    c.next_eip = toff;
    return;
  }
  void os;
  // Task gates and TSS descriptors (task switches) are not modelled.
  gp(sel & 0xfffc);
}

/** Stack of another privilege level, not yet loaded into SS: writes go through its limits. */
interface NewStack { sel: number; lo: number; hi: number; base: number; limit: number; big: boolean; sp: number }

function ns_push(c: Core, st: NewStack, v: number, size: number): void {
  const sp = st.big ? (st.sp - size) >>> 0 : (st.sp - size) & 0xffff;
  // Expand-down stack segments are valid above the limit.
  const ed = (st.hi & 0x400) !== 0;
  const top = ed ? (st.big ? 0xffffffff : 0xffff) : st.limit;
  if ((ed ? sp <= st.limit : false) || sp + size - 1 > top) ss_fault(st.sel & 0xfffc);
  sys_write(c, st.base + sp, size as 1 | 2 | 4, v);
  st.sp = sp;
}

/** SS:ESP for privilege level `dpl` from the current TSS; the new SS is checked (#TS). */
function inner_stack(c: Core, dpl: number): NewStack {
  const tr = c.s.tr;
  const t32 = (tr.attrib & 8) !== 0;
  const at = t32 ? 4 + dpl * 8 : 2 + dpl * 4;
  if (at + (t32 ? 5 : 3) > tr.limit) ts(tr.selector & 0xfffc);
  const sp = sys_read(c, tr.base + at, t32 ? 4 : 2);
  const sel = sys_read(c, tr.base + at + (t32 ? 4 : 2), 2);
  if ((sel & 0xfffc) === 0) ts(sel & 0xfffc);
  fetch_desc(c, sel, true);
  const a = desc_attrib(dhi);
  if ((sel & 3) !== dpl || ((a >>> 5) & 3) !== dpl || (a & 0x1a) !== 0x12) ts(sel & 0xfffc);
  if ((a & 0x80) === 0) ss_fault(sel & 0xfffc);
  set_accessed(c, sel);
  return { sel, lo: dlo, hi: dhi, base: desc_base(dlo, dhi), limit: desc_limit(dlo, dhi), big: (dhi & 0x400000) !== 0, sp };
}

function switch_stack(c: Core, st: NewStack): void {
  const sg = seg_from(st.sel, st.lo, st.hi);
  c.s.seg[SS] = sg;
  c.sync_seg(SS);
  c.s.gpr[ESP] = st.big ? st.sp : (c.s.gpr[ESP] & 0xffff0000) | st.sp;
}

export function far_call(c: Core, sel: number, off: number, os: number): void {
  const s = c.s;
  if (!c.pe) {
    if (off > s.seg[CS].limit) gp(0);
    const save = s.gpr[ESP];
    try {
      push(c, s.seg[CS].selector, os);
      push(c, c.next_eip, os);
    } catch (e) { s.gpr[ESP] = save; throw e; }
    load_real_seg(c, CS, sel);
    c.next_eip = off;
    return;
  }
  if ((sel & 0xfffc) === 0) gp(0);
  fetch_desc(c, sel);
  const a = desc_attrib(dhi);
  const save = s.gpr[ESP];
  if ((a & 0x18) === 0x18) {
    check_code_direct(c, sel);
    check_eip(c, off, desc_limit(dlo, dhi));
    const lo = dlo, hi = dhi;
    try {
      push(c, s.seg[CS].selector, os);
      push(c, c.next_eip, os);
    } catch (e) { s.gpr[ESP] = save; throw e; }
    dlo = lo; dhi = hi;
    set_accessed(c, sel);
    load_cs(c, sel, lo, hi, c.cpl);
    c.next_eip = off;
    return;
  }
  const type = a & 0x1f;
  if (type !== 4 && type !== 12) gp(sel & 0xfffc); // task gates / TSS: task switches are not modelled
  const gdpl = (a >>> 5) & 3;
  if (gdpl < c.cpl || gdpl < (sel & 3)) gp(sel & 0xfffc);
  if ((a & 0x80) === 0) np(sel & 0xfffc);
  const gsize = type === 12 ? 4 : 2;
  const params = dhi & 0x1f;
  const tsel = dlo >>> 16;
  const toff = type === 12 ? ((dlo & 0xffff) | (dhi & 0xffff0000)) >>> 0 : dlo & 0xffff;
  if ((tsel & 0xfffc) === 0) gp(0);
  fetch_desc(c, tsel);
  const ta = desc_attrib(dhi), tdpl = (ta >>> 5) & 3;
  if ((ta & 0x18) !== 0x18 || tdpl > c.cpl) gp(tsel & 0xfffc);
  if ((ta & 0x80) === 0) np(tsel & 0xfffc);
  const tlo = dlo, thi = dhi;
  check_eip(c, toff, desc_limit(tlo, thi));
  if ((ta & 4) === 0 && tdpl < c.cpl) {
    // Inner privilege: new stack from the TSS; push old SS:ESP, the parameters, CS:EIP.
    const st = inner_stack(c, tdpl);
    const old_ss = s.seg[SS].selector, old_esp = s.gpr[ESP];
    const p: number[] = [];
    for (let i = params - 1; i >= 0; i--) {
      const off2 = c.stack32 ? (old_esp + i * gsize) >>> 0 : (old_esp + i * gsize) & 0xffff;
      p.push(rd(c, SS, off2, gsize));
    }
    ns_push(c, st, old_ss, gsize);
    ns_push(c, st, old_esp, gsize);
    for (const v of p) ns_push(c, st, v, gsize);
    ns_push(c, st, s.seg[CS].selector, gsize);
    ns_push(c, st, c.next_eip, gsize);
    dlo = tlo; dhi = thi;
    set_accessed(c, tsel);
    switch_stack(c, st);
    load_cs(c, tsel, tlo, thi, tdpl);
    c.sync_mode();
  } else {
    try {
      push(c, s.seg[CS].selector, gsize);
      push(c, c.next_eip, gsize);
    } catch (e) { s.gpr[ESP] = save; throw e; }
    dlo = tlo; dhi = thi;
    set_accessed(c, tsel);
    load_cs(c, tsel, tlo, thi, c.cpl);
  }
  c.next_eip = toff;
}

/** Check the code segment a far RET/IRET returns to; leaves its descriptor in dlo/dhi. */
function check_return_cs(c: Core, sel: number): number {
  const rpl = sel & 3, ec = sel & 0xfffc;
  if (ec === 0) gp(0);
  if (rpl < c.cpl) gp(ec);
  fetch_desc(c, sel);
  const a = desc_attrib(dhi), dpl = (a >>> 5) & 3;
  if ((a & 0x18) !== 0x18) gp(ec);
  if ((a & 4) !== 0 ? dpl > rpl : dpl !== rpl) gp(ec);
  if ((a & 0x80) === 0) np(ec);
  return rpl;
}

/** After a return to an outer level, data segments the new CPL may not use become null. */
function invalidate_data_segs(c: Core): void {
  for (const r of [ES, DS, FS, GS]) {
    const sg = c.s.seg[r];
    const a = sg.attrib, dpl = (a >>> 5) & 3;
    if ((a & 0x10000) !== 0) continue;
    if (((a & 8) === 0 || (a & 4) === 0) && dpl < c.cpl) set_seg(c, r, NULL_SEG(0));
  }
}

function stack_read(c: Core, depth: number, size: number): number {
  const g = c.s.gpr;
  const off = c.stack32 ? (g[ESP] + depth) >>> 0 : (g[ESP] + depth) & 0xffff;
  return rd(c, SS, off, size);
}

/** Load SS from a RET/IRET frame for the outer level `rpl`. */
function outer_ss(c: Core, sel: number, rpl: number): SegmentReg {
  const ec = sel & 0xfffc;
  if (ec === 0) gp(0);
  if ((sel & 3) !== rpl) gp(ec);
  fetch_desc(c, sel);
  const a = desc_attrib(dhi);
  if ((a & 0x1a) !== 0x12 || ((a >>> 5) & 3) !== rpl) gp(ec);
  if ((a & 0x80) === 0) ss_fault(ec);
  set_accessed(c, sel);
  return seg_from(sel, dlo, dhi);
}

export function far_ret(c: Core, os: number, imm: number): void {
  const s = c.s;
  if (!c.pe) {
    const ip = stack_read(c, 0, os), cs = stack_read(c, os, os) & 0xffff;
    if (ip > s.seg[CS].limit) gp(0);
    sp_add(c, 2 * os + imm);
    load_real_seg(c, CS, cs);
    c.next_eip = ip;
    return;
  }
  const ip = stack_read(c, 0, os), sel = stack_read(c, os, os) & 0xffff;
  const rpl = check_return_cs(c, sel);
  const lo = dlo, hi = dhi;
  check_eip(c, ip, desc_limit(lo, hi));
  if (rpl === c.cpl) {
    dlo = lo; dhi = hi;
    set_accessed(c, sel);
    sp_add(c, 2 * os + imm);
    load_cs(c, sel, lo, hi, rpl);
  } else {
    const nsp = stack_read(c, 2 * os + imm, os), nss = stack_read(c, 3 * os + imm, os) & 0xffff;
    const ssg = outer_ss(c, nss, rpl);
    dlo = lo; dhi = hi;
    set_accessed(c, sel);
    load_cs(c, sel, lo, hi, rpl);
    s.seg[SS] = ssg;
    c.sync_seg(SS);
    c.sync_mode();
    const big = (ssg.attrib & 0x4000) !== 0;
    s.gpr[ESP] = big ? (nsp + imm) >>> 0 : (s.gpr[ESP] & 0xffff0000) | ((nsp + imm) & 0xffff);
    invalidate_data_segs(c);
  }
  c.next_eip = ip;
}

export function iret(c: Core, os: number): void {
  const s = c.s;
  if (!c.pe) {
    const ip = stack_read(c, 0, os), cs = stack_read(c, os, os) & 0xffff, fl = stack_read(c, 2 * os, os);
    if (ip > s.seg[CS].limit) gp(0);
    sp_add(c, 3 * os);
    load_real_seg(c, CS, cs);
    write_flags(c, os === 2 ? (s.eflags & 0xffff0000) | fl : fl, os, true);
    c.next_eip = ip;
    return;
  }
  if ((s.eflags & FLAG_NT) !== 0) gp(s.tr.selector & 0xfffc); // nested-task return: task switches are not modelled
  const ip = stack_read(c, 0, os), sel = stack_read(c, os, os) & 0xffff, fl = stack_read(c, 2 * os, os);
  if (os === 4 && (fl & FLAG_VM) !== 0 && c.cpl === 0) gp(0); // return to virtual-8086 mode is not modelled
  const rpl = check_return_cs(c, sel);
  const lo = dlo, hi = dhi;
  check_eip(c, ip, desc_limit(lo, hi));
  const old_cpl = c.cpl;
  const newfl = os === 2 ? (s.eflags & 0xffff0000) | fl : fl;
  if (rpl === old_cpl) {
    dlo = lo; dhi = hi;
    set_accessed(c, sel);
    sp_add(c, 3 * os);
    load_cs(c, sel, lo, hi, rpl);
    write_flags(c, newfl, os, true);
  } else {
    const nsp = stack_read(c, 3 * os, os), nss = stack_read(c, 4 * os, os) & 0xffff;
    const ssg = outer_ss(c, nss, rpl);
    dlo = lo; dhi = hi;
    set_accessed(c, sel);
    // Flags are written under the old CPL's rules (IOPL and IF may change when it was 0).
    write_flags(c, newfl, os, true);
    load_cs(c, sel, lo, hi, rpl);
    s.seg[SS] = ssg;
    c.sync_seg(SS);
    c.sync_mode();
    const big = (ssg.attrib & 0x4000) !== 0;
    s.gpr[ESP] = big ? nsp : (s.gpr[ESP] & 0xffff0000) | (nsp & 0xffff);
    invalidate_data_segs(c);
  }
  c.next_eip = ip;
}

/** Protected-mode event delivery through an interrupt or trap gate (SDM Vol. 3A 6.12). */
export function pm_deliver(c: Core, vector: number, ec: number | null, soft: boolean, ext: boolean, ret_eip: number): void {
  const s = c.s;
  const x = ext ? 1 : 0;
  const gate_ec = vector * 8 + 2 + x;
  if (vector * 8 + 7 > s.idtr.limit) gp(gate_ec);
  const glo = sys_read(c, s.idtr.base + vector * 8, 4), ghi = sys_read(c, s.idtr.base + vector * 8 + 4, 4);
  const gtype = (ghi >>> 8) & 0x1f;
  if (gtype !== 6 && gtype !== 7 && gtype !== 14 && gtype !== 15) gp(gate_ec); // task gates: task switches are not modelled
  const gdpl = (ghi >>> 13) & 3;
  if (soft && gdpl < c.cpl) gp(vector * 8 + 2);
  if ((ghi & 0x8000) === 0) np(gate_ec);
  const g32 = (gtype & 8) !== 0, size = g32 ? 4 : 2;
  const sel = glo >>> 16;
  const off = g32 ? ((glo & 0xffff) | (ghi & 0xffff0000)) >>> 0 : glo & 0xffff;
  if ((sel & 0xfffc) === 0) gp(x);
  fetch_desc(c, sel);
  const a = desc_attrib(dhi), dpl = (a >>> 5) & 3;
  if ((a & 0x18) !== 0x18 || dpl > c.cpl) gp((sel & 0xfffc) + x);
  if ((a & 0x80) === 0) np((sel & 0xfffc) + x);
  const lo = dlo, hi = dhi;
  check_eip(c, off, desc_limit(lo, hi));
  const fl = s.eflags;
  if ((a & 4) === 0 && dpl < c.cpl) {
    const st = inner_stack(c, dpl);
    ns_push(c, st, s.seg[SS].selector, size);
    ns_push(c, st, s.gpr[ESP], size);
    ns_push(c, st, fl, size);
    ns_push(c, st, s.seg[CS].selector, size);
    ns_push(c, st, ret_eip, size);
    if (ec !== null) ns_push(c, st, ec, size);
    dlo = lo; dhi = hi;
    set_accessed(c, sel);
    switch_stack(c, st);
    load_cs(c, sel, lo, hi, dpl);
  } else {
    push(c, fl, size);
    push(c, s.seg[CS].selector, size);
    push(c, ret_eip, size);
    if (ec !== null) push(c, ec, size);
    dlo = lo; dhi = hi;
    set_accessed(c, sel);
    load_cs(c, sel, lo, hi, c.cpl);
  }
  s.eflags &= ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if ((gtype & 1) === 0) s.eflags &= ~FLAG_IF;
  s.eip = off;
}

/** I/O permission (SDM Vol. 1 18.5): CPL <= IOPL, else every port bit in the TSS I/O bitmap must be 0. */
export function io_allowed(c: Core, port: number, size: number): boolean {
  if (!c.pe || c.cpl <= ((c.s.eflags >>> 12) & 3)) return true;
  const tr = c.s.tr;
  if ((tr.attrib & 0xf) !== 0xb && (tr.attrib & 0xf) !== 9) return false;
  if (tr.limit < 0x67) return false;
  const map = sys_read(c, tr.base + 0x66, 2);
  const at = map + (port >>> 3);
  if (at + 1 > tr.limit) return false;
  const bits = sys_read(c, tr.base + at, 2);
  return ((bits >>> (port & 7)) & ((1 << size) - 1)) === 0;
}

/** Group 6 (0F 00): SLDT STR LLDT LTR VERR VERW; protected mode only. */
export function sys_insn_0f00(c: Core, d: Insn, off: number): void {
  const s = c.s;
  if (!c.pe) ud();
  const st = (v: number): void => {
    if (d.mod === 3) reg_set(s.gpr, d.rm, d.osize, v); else wr(c, d.ea_seg, off, 2, v);
  };
  const src = (): number => d.mod === 3 ? reg_get(s.gpr, d.rm, 2) : rd(c, d.ea_seg, off, 2);
  switch (d.reg) {
    case 0: st(s.ldtr.selector); return;
    case 1: st(s.tr.selector); return;
    case 2: { // LLDT
      if (c.cpl !== 0) gp(0);
      const sel = src();
      if ((sel & 0xfffc) === 0) { s.ldtr = NULL_SEG(sel); return; }
      if ((sel & 4) !== 0) gp(sel & 0xfffc);
      fetch_desc(c, sel);
      if (((dhi >>> 8) & 0x1f) !== 2) gp(sel & 0xfffc);
      if ((dhi & 0x8000) === 0) np(sel & 0xfffc);
      s.ldtr = seg_from(sel, dlo, dhi);
      return;
    }
    case 3: { // LTR: an available TSS in the GDT, which becomes busy
      if (c.cpl !== 0) gp(0);
      const sel = src();
      if ((sel & 0xfffc) === 0) gp(0);
      if ((sel & 4) !== 0) gp(sel & 0xfffc);
      fetch_desc(c, sel);
      const t = (dhi >>> 8) & 0x1f;
      if (t !== 1 && t !== 9) gp(sel & 0xfffc);
      if ((dhi & 0x8000) === 0) np(sel & 0xfffc);
      dhi = (dhi | 0x200) >>> 0;
      sys_write(c, desc_addr(c, sel) + 4, 4, dhi);
      s.tr = seg_from(sel, dlo, dhi);
      return;
    }
    default: { // VERR / VERW: ZF=1 when readable / writable at CPL and RPL
      const sel = src();
      let ok = false;
      if ((sel & 0xfffc) !== 0 && desc_ok(c, sel)) {
        const a = desc_attrib(dhi), dpl = (a >>> 5) & 3;
        const conforming_code = (a & 0x1c) === 0x1c;
        if ((a & 0x10) !== 0 && (conforming_code || (dpl >= c.cpl && dpl >= (sel & 3)))) {
          ok = d.reg === 4 ? ((a & 8) === 0 || (a & 2) !== 0) : (a & 0xa) === 2;
        }
      }
      s.eflags = ok ? s.eflags | FLAG_ZF : s.eflags & ~FLAG_ZF;
      return;
    }
  }
}

/** Fetch a descriptor without faulting on the table limit (LAR LSL VERR VERW). */
function desc_ok(c: Core, sel: number): boolean {
  const s = c.s;
  const ldt = (sel & 4) !== 0;
  if (ldt && (s.ldtr.attrib & 0x10000) !== 0) return false;
  if ((sel & 0xfff8) + 7 > (ldt ? s.ldtr.limit : s.gdtr.limit)) return false;
  fetch_desc(c, sel);
  return true;
}

/** Group 7 (0F 01): SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
export function sys_insn_0f01(c: Core, d: Insn, off: number): Stop | null {
  const s = c.s;
  const off2 = d.asize === 2 ? (off + 2) & 0xffff : (off + 2) >>> 0;
  switch (d.reg) {
    case 0: case 1: { // SGDT/SIDT: 16-bit limit, then base (24 bits with a 16-bit operand)
      const t = d.reg === 0 ? s.gdtr : s.idtr;
      wr(c, d.ea_seg, off, 2, t.limit);
      wr(c, d.ea_seg, off2, 4, d.osize === 2 ? t.base & 0xffffff : t.base);
      return null;
    }
    case 2: case 3: {
      if (c.pe && c.cpl !== 0) gp(0);
      const limit = rd(c, d.ea_seg, off, 2);
      let base = rd(c, d.ea_seg, off2, 4);
      if (d.osize === 2) base &= 0xffffff;
      if (d.reg === 2) s.gdtr = { base, limit }; else s.idtr = { base, limit };
      return null;
    }
    case 4: { // SMSW: the machine status word; a register destination receives all of CR0
      const v = smsw_value(c);
      if (d.mod === 3) reg_set(s.gpr, d.rm, d.osize, d.osize === 4 ? v : v & 0xffff);
      else wr(c, d.ea_seg, off, 2, v & 0xffff);
      return null;
    }
    case 6: {
      const src = d.mod === 3 ? reg_get(s.gpr, d.rm, 2) : rd(c, d.ea_seg, off, 2);
      return lmsw(c, d, src);
    }
    default: { // INVLPG
      if (c.pe && c.cpl !== 0) gp(0);
      const lin = (c.sbase[d.ea_seg] + off) >>> 0;
      const vmx = c.cpu.vmx;
      if (vmx !== null && vmx.invlpg_exiting) return { kind: "invlpg", insn_len: d.len, address: lin };
      c.flush_page(lin);
      return null;
    }
  }
}

/** LAR/LSL: ZF=1 and the access rights / limit when the descriptor is visible at CPL and RPL. */
export function lar_lsl(c: Core, d: Insn, lar: boolean, sel: number): void {
  const s = c.s;
  if (!c.pe) ud();
  let ok = false;
  if ((sel & 0xfffc) !== 0 && desc_ok(c, sel)) {
    const a = desc_attrib(dhi), dpl = (a >>> 5) & 3;
    if ((a & 0x10) !== 0) {
      ok = (a & 0x1c) === 0x1c || (dpl >= c.cpl && dpl >= (sel & 3));
    } else {
      const t = a & 0xf;
      const valid = lar ? [1, 2, 3, 4, 5, 9, 11, 12].includes(t) : [1, 2, 3, 9, 11].includes(t);
      ok = valid && dpl >= c.cpl && dpl >= (sel & 3);
    }
  }
  if (ok) {
    const v = lar ? (dhi & (d.osize === 2 ? 0xff00 : 0x00f0ff00)) >>> 0 : desc_limit(dlo, dhi);
    reg_set(s.gpr, d.reg, d.osize, v);
    s.eflags |= FLAG_ZF;
  } else s.eflags &= ~FLAG_ZF;
}

/** ARPL (protected mode only): raise the destination selector's RPL to the source's. */
export function arpl(c: Core, d: Insn, off: number): void {
  const s = c.s;
  if (!c.pe) ud();
  const dst = off < 0 ? reg_get(s.gpr, d.rm, 2) : rd(c, d.ea_seg, off, 2);
  const src = reg_get(s.gpr, d.reg, 2);
  if ((dst & 3) < (src & 3)) {
    const v = (dst & ~3) | (src & 3);
    if (off < 0) reg_set(s.gpr, d.rm, 2, v); else wr(c, d.ea_seg, off, 2, v);
    s.eflags |= FLAG_ZF;
  } else s.eflags &= ~FLAG_ZF;
}



/** SYSENTER/SYSEXIT (SDM Vol. 2): fast transfers to and from ring 0 with flat segments
 *  derived from IA32_SYSENTER_CS (CS = MSR, SS = MSR+8 for SYSENTER; CS = MSR+16 | 3,
 *  SS = MSR+24 | 3 for SYSEXIT). #GP(0) in real mode or with a null SYSENTER_CS; SYSEXIT
 *  also requires CPL 0. SYSENTER clears VM, IF and RF; SYSEXIT returns to EDX with ESP = ECX. */
export function sysenter_sysexit(c: Core, exit: boolean): void {
  const s = c.s;
  const msr = (i: number): number => Number((c.cpu.msrs.read(i) ?? 0n) & 0xffffffffn);
  const cs = msr(0x174) & 0xffff;
  if (!c.pe || (cs & 0xfffc) === 0 || (exit && c.cpl !== 0)) gp(0);
  if (!exit) {
    s.eflags &= ~(FLAG_VM | FLAG_IF | FLAG_RF);
    s.seg[CS] = { selector: cs & 0xfffc, base: 0, limit: 0xffffffff, attrib: 0xc09b };
    s.seg[SS] = { selector: (cs + 8) & 0xfffc, base: 0, limit: 0xffffffff, attrib: 0xc093 };
    s.gpr[ESP] = msr(0x175);
    c.next_eip = msr(0x176);
  } else {
    s.seg[CS] = { selector: ((cs + 16) & 0xfffc) | 3, base: 0, limit: 0xffffffff, attrib: 0xc0fb };
    s.seg[SS] = { selector: ((cs + 24) & 0xfffc) | 3, base: 0, limit: 0xffffffff, attrib: 0xc0f3 };
    s.gpr[ESP] = s.gpr[1];
    c.next_eip = s.gpr[2];
  }
  c.sync_seg(CS);
  c.sync_seg(SS);
  c.sync_mode();
}

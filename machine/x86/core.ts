// The interpreter's private view of one CPU: the architectural state (X86State) plus
// what real processors keep in hidden latches and caches: the current privilege level
// and operand/stack sizes, per-segment limit windows, the TLB and the decoded-instruction
// cache. None of it is architectural; `sync()` rebuilds it from X86State whenever
// execute() is entered, because the VT-x model loads guest state directly into X86State.

import type { Bus, Stop, X86Cpu } from "./cpu.js";
import type { PhysMem } from "../phys_mem.js";
import { CR0_PE, CR0_PG, CR4_PGE, CR4_PSE, CR0_WP, CS, SS, type X86State } from "./state.js";
import type { Insn } from "./decode.js";
import { sync_debug } from "./debug.js";

export const TLB_SIZE = 512;
export const TLB_MASK = TLB_SIZE - 1;
// TLB entry permission bits (the AND of the PDE and PTE bits, as the SDM says a TLB caches them).
export const TLB_U = 1, TLB_W = 2, TLB_D = 4, TLB_G = 8;
// With EPT the TLB caches combined translations (linear -> host-physical, SDM 28.4.1) and
// the AND of the EPT entries' R, W, X with them; without EPT all three are set.
export const TLB_ER = 16, TLB_EW = 32, TLB_EX = 64, TLB_EPT_ALL = TLB_ER | TLB_EW | TLB_EX;
// Per-segment access rights in the segment cache.
export const SEG_R = 1, SEG_W = 2;

export class Core {
  readonly s: X86State;
  readonly bus: Bus;
  readonly ram: PhysMem;
  readonly ram_pages: number;

  // Mode latched from CR0, CS and SS (sync_mode()).
  pe = false;
  pg = false;
  cpl = 0;
  /** CS.D: default operand and address size 32. */
  code32 = false;
  /** SS.B: stack pointer is ESP rather than SP. */
  stack32 = false;

  // Segment cache: linear base, the lowest and highest valid offsets, SEG_R|SEG_W.
  readonly sbase = new Float64Array(6);
  readonly slo = new Float64Array(6);
  readonly shi = new Float64Array(6);
  readonly sperm = new Uint8Array(6);

  // TLB: direct-mapped on the linear page number. tag = linear page number or -1.
  readonly tlb_tag = new Int32Array(TLB_SIZE).fill(-1);
  readonly tlb_ppn = new Int32Array(TLB_SIZE);
  readonly tlb_bits = new Uint8Array(TLB_SIZE);
  readonly tlb_frame: (Uint8Array | null)[] = new Array<Uint8Array | null>(TLB_SIZE).fill(null);
  /** Fast-path tags: the entry allows a read (resp. a write, with the dirty bit already set)
   *  at the current privilege level. Cleared when the CPL changes. */
  readonly fast_r = new Int32Array(TLB_SIZE).fill(-1);
  readonly fast_w = new Int32Array(TLB_SIZE).fill(-1);
  /** Bumped on every TLB flush so the fetch path can keep its own one-page cache. */
  tlb_gen = 0;
  /** Host-physical address of the EPT PML4 table while "enable EPT" is in force, else -1
   *  (latched from cpu.vmx at sync()). */
  ept_root = -1;

  // Decoded instructions keyed by physical address: one 4096-slot array per code frame.
  // An entry carries its bytes and is revalidated against RAM on every use, so writes by
  // this CPU (self-modifying code), by DMA or by the host all invalidate it.
  readonly code_pages = new Map<number, (Insn | undefined)[]>();
  fetch_lpn = -1;
  fetch_gen = -1;
  fetch_frame: Uint8Array | null = null;
  fetch_slots: (Insn | undefined)[] | null = null;

  /** EIP of the instruction after the one executing (EIP itself still names the current one). */
  next_eip = 0;
  /** Vector being delivered, for the double-fault rules; -1 when none. */
  delivering = -1;
  // Debug-register breakpoints DR7 enables (debug.ts, sync_debug): bit i for DRi.
  bp_exec = 0;
  bp_data = 0;
  bp_io = 0;
  /** Any of the three: execute() checks this before any breakpoint work. */
  bp_any = 0;
  /** Data and I/O breakpoints the executing instruction met (B0-B3), reported after it. */
  bp_hits = 0;

  /** A VM exit that arose while injecting an event (X86Cpu.inject_event); execute() returns it first. */
  pending_stop: Stop | null = null;

  // Control-register values the TLB was filled under; a change seen at sync() flushes it.
  private seen_cr0 = -1;
  private seen_cr3 = -1;
  private seen_cr4 = -1;
  private seen_a20 = -1;
  private seen_vmx: unknown = undefined;

  constructor(readonly cpu: X86Cpu) {
    this.s = cpu.state;
    this.bus = cpu.bus;
    this.ram = cpu.bus.ram;
    this.ram_pages = cpu.bus.ram.npages;
  }

  /** Rebuild everything derived from X86State (execute() entry; after bulk state loads). */
  sync(): void {
    const s = this.s;
    if (s.cr0 !== this.seen_cr0 || s.cr3 !== this.seen_cr3 || s.cr4 !== this.seen_cr4 ||
        this.cpu.a20_mask !== this.seen_a20 || this.cpu.vmx !== this.seen_vmx) {
      // VM entry and exit without VPID invalidate all linear mappings (SDM 28.3.3.1).
      this.flush_tlb(false);
      this.seen_cr0 = s.cr0; this.seen_cr3 = s.cr3; this.seen_cr4 = s.cr4;
      this.seen_a20 = this.cpu.a20_mask; this.seen_vmx = this.cpu.vmx;
      this.ept_root = this.cpu.vmx?.ept_root ?? -1;
    }
    this.sync_mode();
    for (let i = 0; i < 6; i++) this.sync_seg(i);
    sync_debug(this);
  }

  /** Paging is on when CR0.PG=1; in VMX non-root operation that holds even with CR0.PE=0. */
  sync_mode(): void {
    const s = this.s;
    this.pe = (s.cr0 & CR0_PE) !== 0;
    this.pg = (s.cr0 & CR0_PG) !== 0;
    // CPL is SS.DPL (the VMX definition; equal to CS.DPL except for conforming code).
    const cpl = this.pe ? (s.seg[SS].attrib >>> 5) & 3 : 0;
    if (cpl !== this.cpl) {
      this.cpl = cpl;
      this.fast_r.fill(-1);
      this.fast_w.fill(-1);
    }
    this.code32 = this.pe && (s.seg[CS].attrib & 0x4000) !== 0;
    this.stack32 = this.pe && (s.seg[SS].attrib & 0x4000) !== 0;
    this.seen_cr0 = s.cr0; this.seen_cr3 = s.cr3; this.seen_cr4 = s.cr4;
  }

  /** Segment cache from the hidden part. Data segments with type bit 2 set are expand-down:
   *  valid offsets are limit+1 .. (B ? 0xffffffff : 0xffff). In real mode only the limit counts. */
  sync_seg(i: number): void {
    const sg = this.s.seg[i];
    this.sbase[i] = sg.base >>> 0;
    const a = sg.attrib;
    if (!this.pe) {
      this.slo[i] = 0;
      this.shi[i] = sg.limit >>> 0;
      this.sperm[i] = SEG_R | SEG_W;
      return;
    }
    if ((a & 0x10000) !== 0 || (a & 0x80) === 0 || (a & 0x10) === 0) {
      this.slo[i] = 1; this.shi[i] = 0; this.sperm[i] = 0;
      return;
    }
    const type = a & 0xf;
    if ((type & 8) !== 0) {
      // Code: readable if type bit 1; never writable.
      this.slo[i] = 0; this.shi[i] = sg.limit >>> 0;
      this.sperm[i] = (type & 2) !== 0 ? SEG_R : 0;
    } else {
      if ((type & 4) !== 0) {
        this.slo[i] = (sg.limit >>> 0) + 1;
        this.shi[i] = (a & 0x4000) !== 0 ? 0xffffffff : 0xffff;
      } else {
        this.slo[i] = 0; this.shi[i] = sg.limit >>> 0;
      }
      this.sperm[i] = (type & 2) !== 0 ? SEG_R | SEG_W : SEG_R;
    }
  }

  /** Invalidate the TLB; with keep_global, entries for global pages (CR4.PGE) survive, as on a CR3 write. */
  flush_tlb(keep_global: boolean): void {
    if (keep_global && (this.s.cr4 & CR4_PGE) !== 0) {
      for (let i = 0; i < TLB_SIZE; i++) {
        if ((this.tlb_bits[i] & TLB_G) === 0) { this.tlb_tag[i] = -1; this.fast_r[i] = -1; this.fast_w[i] = -1; }
      }
    } else {
      this.tlb_tag.fill(-1);
      this.fast_r.fill(-1);
      this.fast_w.fill(-1);
    }
    this.tlb_gen++;
  }

  /** INVLPG: drop the translation of one linear page, global or not. */
  flush_page(lin: number): void {
    const lpn = lin >>> 12, i = lpn & TLB_MASK;
    if (this.tlb_tag[i] === lpn) { this.tlb_tag[i] = -1; this.fast_r[i] = -1; this.fast_w[i] = -1; }
    this.tlb_gen++;
  }

  get wp(): boolean { return (this.s.cr0 & CR0_WP) !== 0; }
  get pse(): boolean { return (this.s.cr4 & CR4_PSE) !== 0; }
  get pge(): boolean { return (this.s.cr4 & CR4_PGE) !== 0; }
}

const cores = new WeakMap<X86Cpu, Core>();

export function core_of(cpu: X86Cpu): Core {
  let c = cores.get(cpu);
  if (c === undefined || c.bus !== cpu.bus || c.s !== cpu.state) {
    c = new Core(cpu);
    cores.set(cpu, c);
  }
  return c;
}

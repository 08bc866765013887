// Test harness for kvm/x86_emulate.ts: run one instruction (a) on the simulated CPU
// (machine/x86/interp.ts, the oracle) with an MMIO device behind the PC bus, and (b)
// through the emulator with ops over a copy of the same RAM and a VMM loop that answers
// mmio_read / mmio_write exits from an identical device. Paging is off, so linear =
// physical; RAM is the first RAM_SIZE bytes and every address above it is MMIO.

import { PhysMem } from "../../machine/phys_mem.js";
import { PcBus } from "../../machine/bus.js";
import { X86Cpu, type NonRootControls, type Stop } from "../../machine/x86/cpu.js";
import { execute } from "../../machine/x86/interp.js";
import {
  x86_emulate_complete_mmio_read, x86_emulate_complete_mmio_write, x86_emulate_ctxt, x86_emulate_insn, x86_emulate_mode,
  type x86_emulate_ops, type x86_emulate_result,
} from "../../kvm/x86_emulate.js";

export const RAM_SIZE = 0x80000;

export interface seg_setup {
  selector: number;
  base: number;
  limit: number;
  attrib: number;
}

export interface machine_setup {
  regs: number[];
  eip: number;
  eflags: number;
  cr0: number;
  seg: seg_setup[];
  /** Instruction bytes at CS.base + EIP. */
  code: Uint8Array;
  /** Seed of the RAM contents and of the device's register values. */
  seed: number;
}

export interface mmio_access {
  gpa: number;
  size: number;
  write: boolean;
  value: number;
}

/** A device behind every non-RAM address: bytes of a sparse register file whose unwritten
 *  bytes are a hash of the address. Reads are pure, so page-split accesses agree byte for
 *  byte; every access is logged in order. */
export class mmio_device {
  readonly log: mmio_access[] = [];
  private readonly bytes = new Map<number, number>();
  constructor(private readonly seed: number) {}

  private byte(a: number): number {
    const v = this.bytes.get(a);
    if (v !== undefined) return v;
    let h = (Math.imul(a ^ this.seed, 0x9e3779b1) ^ (a >>> 7)) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
    return (h ^ (h >>> 13)) & 0xff;
  }
  read(gpa: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.byte((gpa + i) >>> 0);
    this.log.push({ gpa, size, write: false, value: v });
    return v;
  }
  write(gpa: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.bytes.set((gpa + i) >>> 0, Math.floor(value / 2 ** (8 * i)) & 0xff);
    this.log.push({ gpa, size, write: true, value });
  }
}

function fill_ram(seed: number): Uint8Array {
  const ram = new Uint8Array(RAM_SIZE);
  const w = new Uint32Array(ram.buffer);
  let x = seed | 1;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    w[i] = x;
  }
  return ram;
}

const controls: NonRootControls = {
  io_exiting: true, hlt_exiting: true, exception_bitmap: 0xffffffff, invlpg_exiting: false,
  cr3_load_exiting: false, cr3_store_exiting: false, cr0_guest_host_mask: 0, cr0_read_shadow: 0,
  cr4_guest_host_mask: 0, cr4_read_shadow: 0, interrupt_window_exiting: false,
};

export type outcome = { kind: "done" } | { kind: "fault"; vector: number; error_code: number | null; cr2?: number } | { kind: "unhandleable"; why: string } | { kind: "other"; what: string };

export interface run_result {
  outcome: outcome;
  regs: number[];
  eip: number;
  eflags: number;
  ram: Uint8Array;
  log: mmio_access[];
}

/** (a) The simulated CPU in VMX non-root operation with every exception intercepted. */
export function run_oracle(m: machine_setup): run_result {
  const ram = new PhysMem(RAM_SIZE);
  const init = fill_ram(m.seed);
  for (let p = 0; p < RAM_SIZE / 4096; p++) ram.frame(p as never).set(init.subarray(p * 4096, (p + 1) * 4096));
  const dev = new mmio_device(m.seed);
  const bus = new PcBus(ram);
  bus.register_mmio(RAM_SIZE, 2 ** 32 - RAM_SIZE, {
    read: (off, size) => dev.read(RAM_SIZE + off, size),
    write: (off, size, v) => dev.write(RAM_SIZE + off, size, v),
  });
  const cpu = new X86Cpu(bus);
  const s = cpu.state;
  for (let i = 0; i < 8; i++) s.gpr[i] = m.regs[i];
  s.eip = m.eip;
  s.eflags = m.eflags;
  s.cr0 = m.cr0;
  for (let i = 0; i < 6; i++) s.seg[i] = { ...m.seg[i] };
  ram.write(((m.seg[1].base + m.eip) >>> 0) as never, m.code);
  cpu.vmx = controls;
  const st: Stop = execute(cpu, 1);
  let outcome: outcome;
  if (st.kind === "budget") outcome = { kind: "done" };
  else if (st.kind === "exception") outcome = st.cr2 === undefined
    ? { kind: "fault", vector: st.vector, error_code: st.error_code }
    : { kind: "fault", vector: st.vector, error_code: st.error_code, cr2: st.cr2 };
  else outcome = { kind: "other", what: st.kind };
  const out = new Uint8Array(RAM_SIZE);
  for (let p = 0; p < RAM_SIZE / 4096; p++) out.set(ram.frame(p as never), p * 4096);
  return { outcome, regs: Array.from(s.gpr), eip: s.eip, eflags: s.eflags, ram: out, log: dev.log };
}

/** Emulator ops over a flat RAM image; everything at or above RAM_SIZE is MMIO. Records
 *  the ops calls, for tests of the access pattern. */
export function flat_ops(ram: Uint8Array, calls: string[] = []): x86_emulate_ops {
  return {
    fetch(lin, n) {
      calls.push(`fetch ${lin.toString(16)} ${n}`);
      if (lin >= RAM_SIZE) return { kind: "mmio", gpa: lin };
      return { kind: "ram", bytes: ram.slice(lin, lin + n) };
    },
    read(lin, n) {
      calls.push(`read ${lin.toString(16)} ${n}`);
      if (lin >= RAM_SIZE) return { kind: "mmio", gpa: lin };
      return { kind: "ram", bytes: ram.slice(lin, lin + n) };
    },
    write(lin, bytes) {
      calls.push(`write ${lin.toString(16)} ${bytes.length}`);
      if (lin >= RAM_SIZE) return { kind: "mmio", gpa: lin };
      ram.set(bytes, lin);
      return { kind: "ram" };
    },
  };
}

export function load_ctxt(m: machine_setup): x86_emulate_ctxt {
  const ctxt = new x86_emulate_ctxt();
  for (let i = 0; i < 8; i++) ctxt.regs[i] = m.regs[i];
  ctxt.eip = m.eip;
  ctxt.eflags = m.eflags;
  for (let i = 0; i < 6; i++) ctxt.seg[i] = { base: m.seg[i].base, limit: m.seg[i].limit, attrib: m.seg[i].attrib };
  ctxt.mode = x86_emulate_mode(m.cr0, m.eflags, m.seg[1].attrib);
  return ctxt;
}

/** A VMM loop: answer every MMIO exit from the device and resume, until the emulator is done.
 *  A `done` without retirement re-enters "the guest", which faults on the same instruction
 *  again: the loop calls x86_emulate_insn once more. */
export function vmm_loop(ctxt: x86_emulate_ctxt, ops: x86_emulate_ops, dev: mmio_device, max_exits = 100000): { result: x86_emulate_result; exits: number } {
  let r = x86_emulate_insn(ctxt, ops);
  let exits = 0;
  for (;;) {
    if (++exits > max_exits) throw new Error("too many exits");
    if (r.kind === "mmio_read") {
      const v = dev.read(r.gpa, r.len);
      const data = new Uint8Array(8);
      for (let i = 0; i < r.len; i++) data[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
      r = x86_emulate_complete_mmio_read(ctxt, ops, data);
    } else if (r.kind === "mmio_write") {
      let v = 0;
      for (let i = r.len - 1; i >= 0; i--) v = v * 256 + r.data[i];
      dev.write(r.gpa, r.len, v);
      r = x86_emulate_complete_mmio_write(ctxt, ops);
    } else if (r.kind === "done" && !r.retired) {
      r = x86_emulate_insn(ctxt, ops);
    } else {
      return { result: r, exits };
    }
  }
}

/** (b) The emulator. */
export function run_emulator(m: machine_setup): run_result {
  const ram = fill_ram(m.seed);
  ram.set(m.code, (m.seg[1].base + m.eip) >>> 0);
  const dev = new mmio_device(m.seed);
  const ctxt = load_ctxt(m);
  const { result } = vmm_loop(ctxt, flat_ops(ram), dev);
  let outcome: outcome;
  if (result.kind === "done") outcome = { kind: "done" };
  else if (result.kind === "inject") outcome = result.cr2 === undefined
    ? { kind: "fault", vector: result.vector, error_code: result.error_code }
    : { kind: "fault", vector: result.vector, error_code: result.error_code, cr2: result.cr2 };
  else if (result.kind === "unhandleable") outcome = { kind: "unhandleable", why: result.why };
  else outcome = { kind: "other", what: result.kind };
  return { outcome, regs: Array.from(ctxt.regs), eip: ctxt.eip, eflags: ctxt.eflags, ram, log: dev.log };
}

/** Expand accesses into single-byte events, for comparing page-split accesses. */
export function bytewise(log: mmio_access[]): string[] {
  const out: string[] = [];
  for (const a of log)
    for (let i = 0; i < a.size; i++) out.push(`${a.write ? "W" : "R"} ${((a.gpa + i) >>> 0).toString(16)} ${Math.floor(a.value / 2 ** (8 * i)) & 0xff}`);
  return out;
}

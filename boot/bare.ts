// `lkvm run --bare`: a guest run directly on the simulated PC, with no kernel and no
// hypervisor in between: the baseline for what virtualization costs. One CPU executes the
// guest from the loader's entry state; the devices are the VMM's own (COM1, the 0xE9 debug
// console, isa-debug-exit), attached to the machine's PcBus as port handlers, so a guest
// sees the same hardware bare as under kvm.
//
// How a run ends (the same as the VMM's vcpu loop, except for the triple fault):
//   - a write to isa-debug-exit: status (value << 1) | 1, at once (later output is dropped);
//   - HLT with IF=0, or with IF=1 and no timer armed: status 0. Such a CPU never wakes
//     (QEMU would wait forever instead: guests meant to be compared with QEMU end with
//     isa-debug-exit);
//   - a triple fault (shutdown): "guest shutdown (triple fault)" on stderr and status 0.
//     That is QEMU's behaviour with -no-reboot (a shutdown request, exit status 0; see
//     guests/triple-fault/expected.status). DIVERGENCE from the VMM, whose
//     KVM_EXIT_SHUTDOWN gives status 1: --bare is judged against QEMU byte for byte;
//   - `max_insns` retired without any of these: status 124 and a message, as timeout(1).
//
// Interrupts: the VMM's 8259 PIC pair and 8254 PIT on a virtual clock (VirtualClock, in
// PIT input clocks), as in the VMM, but the clock follows retired instructions:
// INSNS_PER_PIT_TICK instructions per PIT clock, plus the time skipped while halted (HLT
// with IF=1 jumps to the PIT's next IRQ0 edge). The slice ends at the next PIT edge, and
// the PIC's interrupt is handed to the CPU (cpu.irq, taken at the next instruction
// boundary with IF=1) once the CPU can take it.
//
// ROM images (firmware) inside RAM are written into RAM (the guest could overwrite them,
// which QEMU's read-only isa-bios alias ignores); outside RAM they are a read-only MMIO
// region, so instruction fetch at the reset vector 0xFFFFFFF0 reads the image itself.

import { Machine } from "../machine/engine.js";
import type { MmioHandler, PortHandler } from "../machine/bus.js";
import type { HostPipe } from "../machine/host_pipe.js";
import type { Hpa } from "../machine/addr.js";
import type { X86Cpu } from "../machine/x86/cpu.js";
import { execute } from "../machine/x86/interp.js";
import { type SegmentReg, CS, DS, EAX, EBP, EBX, ECX, EDI, EDX, ES, ESI, ESP, FS, GS, SS } from "../machine/x86/state.js";
import type { IoDevice } from "../userspace/vmm/io_bus.js";
import { DebugExit, DEBUG_EXIT_PORT } from "../userspace/vmm/devices/debug_exit.js";
import { Debugcon, DEBUGCON_PORT } from "../userspace/vmm/devices/debugcon.js";
import { COM1_BASE, Serial8250 } from "../userspace/vmm/devices/serial8250.js";
import { I8259, PIC_MASTER_BASE, PIC_SLAVE_BASE } from "../userspace/vmm/devices/i8259.js";
import { I8254, PIT_BASE, VirtualClock } from "../userspace/vmm/devices/i8254.js";
import { real_mode_entry_state, type EntryState, type GuestImage, type SegmentState } from "../userspace/vmm/loader/entry_state.js";

export interface BareConfig {
  /** Guest RAM in MiB at physical 0. */
  mem_mib: number;
  images: GuestImage[];
  /** The loader's entry state, or a real-mode cs:ip (data segments = cs, as the VMM enters flat images). */
  entry_state: EntryState | { cs: number; ip: number };
  /** Guest output: COM1 and the 0xE9 debug console. */
  stdout: HostPipe;
  /** Diagnostics (the triple-fault message); dropped when absent. */
  stderr?: HostPipe;
  /** Stop with status 124 after this many instructions (default: no limit). */
  max_insns?: number;
}

export type BareEnd = "debug_exit" | "hlt" | "triple_fault" | "insn_limit";

export interface BareResult {
  exit_status: number;
  /** Instructions the guest retired. */
  insns: number;
  /** What ended the run. */
  end: BareEnd;
}

/** Instructions executed between checks of the exit device and the instruction limit. */
const SLICE = 1 << 16;
/** Instructions per PIT input clock (1.193182 MHz): 64, a CPU of about 76 MIPS. */
const INSNS_PER_PIT_TICK = 64;
/** Slice while an interrupt waits for IF=1. */
const IRQ_WAIT_SLICE = 64;
/** As the VMM's HLT_MAX_WAKEUPS: timer periods a halted CPU sleeps through a masked PIC. */
const HLT_MAX_WAKEUPS = 1 << 16;

/** The VMM's devices speak IoDevice (io_in/io_out); the machine's bus wants PortHandler. */
class PortAdapter implements PortHandler {
  constructor(private readonly dev: IoDevice) {}
  in(port: number, size: 1 | 2 | 4): number {
    if (this.dev.io_in === undefined) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return this.dev.io_in(port, size);
  }
  out(port: number, size: 1 | 2 | 4, value: number): void {
    this.dev.io_out?.(port, size, value);
  }
}

/** A ROM outside RAM: reads return the image (little endian), writes are ignored. */
class Rom implements MmioHandler {
  constructor(private readonly bytes: Uint8Array) {}
  read(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.bytes[offset + i] ?? 0xff);
    return v >>> 0;
  }
  write(): void {}
}

/** Guest output, line-buffered: bytes after the exit device fired are dropped. */
class Output {
  private buf: number[] = [];
  closed = false;
  constructor(private readonly pipe: HostPipe) {}
  byte(b: number): void {
    if (this.closed) return;
    this.buf.push(b);
    if (b === 0x0a || this.buf.length >= 4096) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0) return;
    this.pipe.write(Uint8Array.from(this.buf));
    this.buf = [];
  }
}

/** kvm_segment fields to the VMX access-rights format of X86State. */
export function segment_reg(s: SegmentState): SegmentReg {
  const attrib = (s.type & 0xf) | (s.s << 4) | ((s.dpl & 3) << 5) | (s.present << 7) | (s.avl << 12) | (s.l << 13) |
    (s.db << 14) | (s.g << 15) | (s.present ? 0 : 1 << 16);
  return { selector: s.selector & 0xffff, base: s.base >>> 0, limit: s.limit >>> 0, attrib };
}

/** Write an entry state into the CPU's architectural state. */
export function load_entry_state(cpu: X86Cpu, e: EntryState): void {
  const s = cpu.state;
  const r = e.regs;
  s.gpr[EAX] = r.eax; s.gpr[ECX] = r.ecx; s.gpr[EDX] = r.edx; s.gpr[EBX] = r.ebx;
  s.gpr[ESP] = r.esp; s.gpr[EBP] = r.ebp; s.gpr[ESI] = r.esi; s.gpr[EDI] = r.edi;
  s.eip = r.eip >>> 0;
  s.eflags = (r.eflags | 2) >>> 0;
  const sr = e.sregs;
  s.seg[ES] = segment_reg(sr.es);
  s.seg[CS] = segment_reg(sr.cs);
  s.seg[SS] = segment_reg(sr.ss);
  s.seg[DS] = segment_reg(sr.ds);
  s.seg[FS] = segment_reg(sr.fs);
  s.seg[GS] = segment_reg(sr.gs);
  s.ldtr = segment_reg(sr.ldt);
  s.tr = segment_reg(sr.tr);
  s.gdtr = { base: sr.gdt.base >>> 0, limit: sr.gdt.limit };
  s.idtr = { base: sr.idt.base >>> 0, limit: sr.idt.limit };
  s.cr0 = sr.cr0 >>> 0;
  s.cr2 = sr.cr2 >>> 0;
  s.cr3 = sr.cr3 >>> 0;
  s.cr4 = sr.cr4 >>> 0;
  s.interruptibility = 0;
  cpu.flush_tlb(true);
}

const enc = new TextEncoder();

export function run_bare(cfg: BareConfig): BareResult {
  const g = bare_run(cfg);
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
  }
}

/** run_bare, giving Node's event loop a turn between slices, so that a long guest run does
 *  not starve the process's own I/O (a test runner's messages, a terminal's output). */
export async function run_bare_async(cfg: BareConfig): Promise<BareResult> {
  const g = bare_run(cfg);
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The bare machine's run loop; it yields between slices. */
function* bare_run(cfg: BareConfig): Generator<void, BareResult, void> {
  const ram_bytes = cfg.mem_mib * 1024 * 1024;
  if (!Number.isInteger(cfg.mem_mib) || cfg.mem_mib < 1 || ram_bytes > 0xfec00000)
    throw new RangeError(`--bare: guest RAM of ${cfg.mem_mib} MiB is not 1 MiB .. 4075 MiB`);
  const machine = new Machine({ ncpus: 1, ram_bytes, seed: 0 });
  const out = new Output(cfg.stdout);
  const debug_exit = new DebugExit();
  machine.bus.register_io(COM1_BASE, 8, new PortAdapter(new Serial8250(COM1_BASE, (b) => out.byte(b))));
  machine.bus.register_io(DEBUGCON_PORT, 1, new PortAdapter(new Debugcon((b) => out.byte(b))));
  machine.bus.register_io(DEBUG_EXIT_PORT, 1, new PortAdapter({
    name: debug_exit.name,
    io_out: (port, size, value) => {
      debug_exit.io_out(port, size, value);
      out.flush();
      out.closed = true;
    },
  }));
  const clock = new VirtualClock();
  const pic = new I8259();
  const pit = new I8254(clock, (level) => pic.set_irq(0, level));
  machine.bus.register_io(PIC_MASTER_BASE, 2, new PortAdapter(pic));
  machine.bus.register_io(PIC_SLAVE_BASE, 2, new PortAdapter(pic));
  machine.bus.register_io(PIT_BASE, 4, new PortAdapter(pit));

  for (const img of cfg.images) {
    const end = img.gpa + img.bytes.length;
    if (end <= ram_bytes) machine.ram.write(img.gpa as Hpa, img.bytes);
    else if (img.gpa >= ram_bytes && img.rom === true && end <= 2 ** 32) machine.bus.register_mmio(img.gpa, img.bytes.length, new Rom(img.bytes));
    else
      throw new RangeError(`--bare: image of ${img.bytes.length} bytes at 0x${img.gpa.toString(16)} does not fit in ${cfg.mem_mib} MiB of RAM`);
  }

  const cpu = machine.cpus[0];
  const x86 = cpu.x86;
  const e = cfg.entry_state;
  load_entry_state(x86, "regs" in e ? e : real_mode_entry_state(e.cs, e.ip));

  const limit = cfg.max_insns ?? Infinity;
  const done = (exit_status: number, end: BareEnd): BareResult => {
    out.flush();
    return { exit_status, insns: x86.insns_retired, end };
  };
  // Virtual time = instructions / INSNS_PER_PIT_TICK + clocks skipped in HLT.
  let slept = 0;
  const sync_clock = (): void => {
    clock.advance_to(Math.floor(x86.insns_retired / INSNS_PER_PIT_TICK) + slept);
    pit.update();
  };
  /** INTA when the CPU can take the interrupt (IF=1, no STI/MOV SS shadow); true if one still waits. */
  const deliver = (): boolean => {
    if (!pic.pending() || x86.irq >= 0) return false;
    if ((x86.state.eflags & 0x200) !== 0 && x86.state.interruptibility === 0) {
      x86.irq = pic.ack();
      return false;
    }
    return true;
  };
  for (;;) {
    yield;
    sync_clock();
    const waiting = deliver();
    let budget = Math.min(waiting ? IRQ_WAIT_SLICE : SLICE, limit - x86.insns_retired);
    const deadline = pit.next_deadline();
    if (deadline !== null && budget > 0) budget = Math.max(1, Math.min(budget, (deadline - clock.now) * INSNS_PER_PIT_TICK));
    if (budget <= 0) {
      cfg.stderr?.write(enc.encode(`lkvm: --bare: no exit after ${x86.insns_retired} instructions (eip 0x${x86.state.eip.toString(16)})\n`));
      return done(124, "insn_limit");
    }
    const stop = execute(x86, budget);
    cpu.tsc = x86.insns_retired;
    if (debug_exit.status !== null) return done(debug_exit.status, "debug_exit");
    switch (stop.kind) {
      case "budget":
        break;
      case "hlt": {
        if ((x86.state.eflags & 0x200) === 0) return done(0, "hlt");
        sync_clock();
        let wakeups = 0;
        while (!pic.pending()) {
          const t = pit.next_deadline();
          if (t === null || wakeups++ >= HLT_MAX_WAKEUPS) return done(0, "hlt");
          slept += t - clock.now;
          clock.advance_to(t);
          pit.update();
        }
        break;
      }
      case "triple_fault":
        out.flush();
        cfg.stderr?.write(enc.encode("lkvm: guest shutdown (triple fault)\n"));
        return done(0, "triple_fault");
      default:
        // Every other Stop is a VM exit, and this CPU is not in VMX non-root operation.
        throw new Error(`--bare: the CPU stopped with ${stop.kind} outside VMX operation`);
    }
  }
}

// The VMM: what qemu-kvm / kvmtool do, at the size this model needs. It creates a VM
// with one vcpu, gives it guest RAM from its own anonymous memory, loads a flat image,
// and runs the vcpu loop: one switch on kvm_run->exit_reason. Devices only register
// port handlers on the IoBus.
//
// Interrupts: an 8259 PIC pair and an 8254 PIT, on a virtual clock (VirtualClock, in
// periods of the PIT's 1.193182 MHz input). The clock is deterministic, not wall time:
//   - every exit to userspace advances it by CLOCK_TICKS_PER_EXIT;
//   - KVM_EXIT_HLT with IF=1 (kvm_run.if_flag) jumps it to the PIT's next IRQ0 edge: the
//     guest sleeps until its timer fires, as on hardware, but at no cost in host time.
// So a guest that waits for ticks with `sti; hlt` takes exactly the ticks it asks for,
// as under QEMU; a guest that busy-waits on the counter sees time move only as it exits.
// Delivery: when the PIC raises INTR and kvm_run.ready_for_interrupt_injection is set,
// the VMM acknowledges the PIC (INTA) and queues the vector with KVM_INTERRUPT; otherwise
// it sets request_interrupt_window and waits for KVM_EXIT_IRQ_WINDOW_OPEN.
//
// Output contract of the lkvm command: guest serial output (COM1 and the 0xe9 debug
// console) goes to fd 1 and nothing else does; diagnostics go to fd 2.

import * as uapi from "../../include/uapi/linux/kvm.js";
import { uva } from "../../machine/addr.js";
import { Kvm, KvmError, type VcpuFd, type VmFd } from "../lib/kvm.js";
import type { EntryState, GuestImage } from "./loader/entry_state.js";
import { real_mode_entry_state } from "./loader/entry_state.js";
import { apply_entry_state } from "./loader/kvm_entry.js";
import type { Libc } from "../libc/libc.js";
import { DebugExit, DEBUG_EXIT_PORT } from "./devices/debug_exit.js";
import { Debugcon, DEBUGCON_PORT } from "./devices/debugcon.js";
import { COM1_BASE, Serial8250 } from "./devices/serial8250.js";
import { I8259, PIC_MASTER_BASE, PIC_SLAVE_BASE } from "./devices/i8259.js";
import { I8254, PIT_BASE, VirtualClock } from "./devices/i8254.js";
import { IoBus } from "./io_bus.js";

export interface VmmConfig {
  /** Guest RAM in MiB, mapped at guest-physical 0. */
  mem_mib: number;
  /** Images and where they go. One that lies above RAM (a firmware's alias below 4 GiB)
   *  gets a memory slot of its own. */
  images: GuestImage[];
  /** The vcpu's initial state: a loader's (multiboot: protected mode, EAX = 0x2BADB002),
   *  or a real-mode entry point given as a guest-physical address below 1 MiB. */
  entry: EntryState | number;
  /** Called when the guest has ended, before the VMM returns (and its fds close): e.g.
   *  `lkvm stat` reading this VM's statistics while the VM still exists. */
  after_run?: (c: Libc, vm_fd: number) => Promise<void>;
  /** Report on stderr how the VMM got around the host's limits: where mmap(2) of the
   *  vcpu fd fails with ENODEV (the 2007 port's presets), it maps kvm_run with the
   *  port's KVM_FREEBSD_MMAP, and says so. */
  verbose?: boolean;
}

const STDOUT = 1;
const STDERR = 2;
const PAGE = 4096;
/** Virtual time per exit to userspace, in PIT input clocks (4 = 3.35 us, the order of a
 *  2007 VM exit and return through the VMM). */
export const CLOCK_TICKS_PER_EXIT = 4;
/** A halted vcpu whose timer keeps firing into a masked PIC would sleep forever (QEMU
 *  waits); after this many timer periods without a deliverable interrupt the run ends. */
const HLT_MAX_WAKEUPS = 1 << 16;

/** Real-mode cs:ip for a guest-physical entry point below 1 MiB. */
export function real_mode_entry(entry: number): { cs: number; ip: number } {
  if (entry < 0 || entry >= 0x100000) throw new RangeError(`entry 0x${entry.toString(16)} is not below 1 MiB`);
  return { cs: (entry & 0xf0000) >>> 4, ip: entry & 0xffff };
}

export async function vmm_main(c: Libc, cfg: VmmConfig): Promise<number> {
  try {
    return await vmm_run(c, cfg);
  } catch (e) {
    if (e instanceof KvmError) {
      await c.puts(STDERR, `lkvm: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function vmm_run(c: Libc, cfg: VmmConfig): Promise<number> {
  const kvm = await Kvm.open(c, "/dev/kvm", cfg.verbose ? (msg) => c.puts(STDERR, `lkvm: ${msg}\n`) : undefined);
  const version = await kvm.get_api_version();
  if (version !== uapi.KVM_API_VERSION) {
    await c.puts(STDERR, `lkvm: KVM API version ${version}, expected ${uapi.KVM_API_VERSION}\n`);
    return 1;
  }
  if ((await kvm.check_extension(uapi.KVM_CAP_USER_MEMORY)) === 0) {
    await c.puts(STDERR, "lkvm: KVM_CAP_USER_MEMORY is required\n");
    return 1;
  }
  const vm = await kvm.create_vm();
  const mem_size = cfg.mem_mib * 1024 * 1024;
  const ram = await c.mmap(null, mem_size, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0);
  if (ram === null) {
    await c.puts(STDERR, `lkvm: cannot allocate ${cfg.mem_mib} MiB of guest memory: ${c.errname()}\n`);
    return 1;
  }
  await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: BigInt(mem_size), userspace_addr: BigInt(ram) });
  let next_slot = 1;
  for (const img of cfg.images) {
    if (img.gpa + img.bytes.length <= mem_size) {
      for (let off = 0; off < img.bytes.length; off += PAGE) c.poke(uva(ram + img.gpa + off), img.bytes.subarray(off, off + PAGE));
    } else if (img.gpa >= mem_size) {
      if (!(await map_image_slot(c, vm, next_slot++, img))) return 1;
    } else {
      await c.puts(STDERR, `lkvm: image of ${img.bytes.length} bytes at 0x${img.gpa.toString(16)} straddles the end of ${cfg.mem_mib} MiB of RAM\n`);
      return 1;
    }
  }

  const vcpu = await vm.create_vcpu(0);
  let entry: EntryState;
  if (typeof cfg.entry === "number") {
    const { cs, ip } = real_mode_entry(cfg.entry);
    entry = real_mode_entry_state(cs, ip);
  } else entry = cfg.entry;
  const sregs = await vcpu.get_sregs();
  const regs = await vcpu.get_regs();
  apply_entry_state(entry, regs, sregs);
  await vcpu.set_sregs(sregs);
  await vcpu.set_regs(regs);

  const out = new OutputBuffer(c);
  const bus = new IoBus();
  const debug_exit = new DebugExit();
  bus.register(COM1_BASE, 8, new Serial8250(COM1_BASE, (b) => out.byte(b)));
  bus.register(DEBUGCON_PORT, 1, new Debugcon((b) => out.byte(b)));
  bus.register(DEBUG_EXIT_PORT, 1, debug_exit);
  const clock = new VirtualClock();
  const pic = new I8259();
  const pit = new I8254(clock, (level) => pic.set_irq(0, level));
  bus.register(PIC_MASTER_BASE, 2, pic);
  bus.register(PIC_SLAVE_BASE, 2, pic);
  bus.register(PIT_BASE, 4, pit);

  const status = await vcpu_loop(c, vcpu, bus, debug_exit, out, { clock, pic, pit });
  await out.flush();
  if (cfg.after_run !== undefined) await cfg.after_run(c, vm.fd);
  return status;
}

/** An image above guest RAM (a firmware's copy ending at 4 GiB) in a slot of its own,
 *  backed by a private copy. KVM_MEM_READONLY is not offered by this kvm, so unlike
 *  QEMU's ROM the guest could write to it. */
async function map_image_slot(c: Libc, vm: VmFd, slot: number, img: GuestImage): Promise<boolean> {
  const size = Math.ceil(img.bytes.length / PAGE) * PAGE;
  const mem = await c.mmap(null, size, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_PRIVATE | c.abi.MAP_ANON, -1, 0);
  if (mem === null) {
    await c.puts(STDERR, `lkvm: cannot allocate ${size} bytes for the image at 0x${img.gpa.toString(16)}: ${c.errname()}\n`);
    return false;
  }
  for (let off = 0; off < img.bytes.length; off += PAGE) c.poke(uva(mem + off), img.bytes.subarray(off, off + PAGE));
  await vm.set_user_memory_region({ slot, flags: 0, guest_phys_addr: BigInt(img.gpa), memory_size: BigInt(size), userspace_addr: BigInt(mem) });
  return true;
}

/** Line-buffered guest output on fd 1. */
class OutputBuffer {
  private pending: number[] = [];
  constructor(private readonly c: Libc) {}
  byte(b: number): void {
    this.pending.push(b);
  }
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const bytes = Uint8Array.from(this.pending);
    this.pending = [];
    let off = 0;
    while (off < bytes.length) {
      const n = await this.c.write(STDOUT, bytes.subarray(off));
      if (n <= 0) return;
      off += n;
    }
  }
  async maybe_flush(): Promise<void> {
    if (this.pending.includes(0x0a) || this.pending.length >= 4096) await this.flush();
  }
}

interface InterruptSources {
  clock: VirtualClock;
  pic: I8259;
  pit: I8254;
}

/** Before KVM_RUN: let the clock move, and hand the PIC's interrupt to kvm if the guest
 *  can take it now, or ask kvm to say when it can. */
async function inject_interrupts(vcpu: VcpuFd, irq: InterruptSources): Promise<void> {
  irq.clock.advance(CLOCK_TICKS_PER_EXIT);
  irq.pit.update();
  if (irq.pic.pending() && vcpu.run_header().ready_for_interrupt_injection !== 0) await vcpu.interrupt(irq.pic.ack());
  vcpu.set_request_interrupt_window(irq.pic.pending());
}

/** The vcpu loop: run, then one switch on why the guest stopped. Returns the VMM's exit status. */
async function vcpu_loop(c: Libc, vcpu: VcpuFd, bus: IoBus, debug_exit: DebugExit, out: OutputBuffer, irq: InterruptSources): Promise<number> {
  for (;;) {
    await inject_interrupts(vcpu, irq);
    await vcpu.kvm_run();
    const reason = vcpu.exit_reason();
    switch (reason) {
      case uapi.KVM_EXIT_IO: {
        const io = vcpu.io();
        if (io.direction === uapi.KVM_EXIT_IO_OUT) {
          const data = vcpu.io_data(io);
          for (let i = 0; i < io.count; i++) bus.out(io.port, io.size, le(data, i * io.size, io.size));
        } else {
          const data = new Uint8Array(io.size * io.count);
          for (let i = 0; i < io.count; i++) put_le(data, i * io.size, io.size, bus.in(io.port, io.size));
          vcpu.set_io_data(io, data);
        }
        await out.maybe_flush();
        if (debug_exit.status !== null) return debug_exit.status;
        break;
      }
      case uapi.KVM_EXIT_HLT: {
        // With IF=0 nothing can wake the vcpu: the guest is done. With IF=1 it sleeps
        // until the PIT's next edge reaches the PIC unmasked; with no timer armed it never
        // wakes, and the guest is done too.
        if (vcpu.run_header().if_flag === 0) return 0;
        let wakeups = 0;
        while (!irq.pic.pending()) {
          const t = irq.pit.next_deadline();
          if (t === null || wakeups++ >= HLT_MAX_WAKEUPS) return 0;
          irq.clock.advance_to(t);
          irq.pit.update();
        }
        break;
      }
      case uapi.KVM_EXIT_IRQ_WINDOW_OPEN:
        // inject_interrupts queues the PIC's interrupt before the next KVM_RUN.
        break;
      case uapi.KVM_EXIT_SHUTDOWN:
        // As QEMU with -no-reboot: the machine powers off, and that is not an error.
        await out.flush();
        await c.puts(STDERR, "lkvm: guest shutdown (triple fault)\n");
        return 0;
      case uapi.KVM_EXIT_FAIL_ENTRY:
        await out.flush();
        await c.puts(STDERR, `lkvm: KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason = 0x${vcpu.exit_union_u64().toString(16)}\n`);
        return 1;
      case uapi.KVM_EXIT_INTERNAL_ERROR:
        await out.flush();
        await c.puts(STDERR, `lkvm: KVM_EXIT_INTERNAL_ERROR: suberror = 0x${(vcpu.exit_union_u64() & 0xffffffffn).toString(16)}\n`);
        return 1;
      default:
        await out.flush();
        await c.puts(STDERR, `lkvm: unhandled exit ${uapi.KVM_EXIT_NAMES[reason] ?? reason} (0x${vcpu.exit_union_u64().toString(16)})\n`);
        return 1;
    }
  }
}

function le(b: Uint8Array, off: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v * 256) + b[off + i];
  return v >>> 0;
}

function put_le(b: Uint8Array, off: number, size: number, v: number): void {
  for (let i = 0; i < size; i++) b[off + i] = (v >>> (8 * i)) & 0xff;
}


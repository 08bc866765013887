// The PC's buses as a CPU reaches them: RAM, the port I/O space and MMIO holes.
// Devices only register handlers (kvmtool style); an unclaimed port reads all ones
// and drops writes, as on an ISA bus with nothing answering.

import type { Bus } from "./x86/cpu.js";
import type { PhysMem } from "./phys_mem.js";

export interface PortHandler {
  in?(port: number, size: 1 | 2 | 4): number;
  out?(port: number, size: 1 | 2 | 4, value: number): void;
}

export interface MmioHandler {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

export class PcBus implements Bus {
  private readonly ports = new Map<number, PortHandler>();
  private readonly mmio: { base: number; len: number; h: MmioHandler }[] = [];

  constructor(readonly ram: PhysMem) {}

  register_io(first: number, count: number, h: PortHandler): void {
    for (let p = first; p < first + count; p++) {
      if (this.ports.has(p)) throw new RangeError(`I/O port 0x${p.toString(16)} already claimed`);
      this.ports.set(p, h);
    }
  }

  register_mmio(base: number, len: number, h: MmioHandler): void {
    this.mmio.push({ base, len, h });
  }

  io_in(port: number, size: 1 | 2 | 4): number {
    const h = this.ports.get(port);
    if (h?.in === undefined) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return h.in(port, size);
  }

  io_out(port: number, size: 1 | 2 | 4, value: number): void {
    this.ports.get(port)?.out?.(port, size, value);
  }

  mmio_read(addr: number, size: 1 | 2 | 4): number {
    for (const r of this.mmio) if (addr >= r.base && addr < r.base + r.len) return r.h.read(addr - r.base, size);
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  mmio_write(addr: number, size: 1 | 2 | 4, value: number): void {
    for (const r of this.mmio)
      if (addr >= r.base && addr < r.base + r.len) {
        r.h.write(addr - r.base, size, value);
        return;
      }
  }
}

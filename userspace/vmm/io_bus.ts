// The VMM's port-I/O space: devices register handlers for port ranges (kvmtool's
// ioport__register); the vcpu loop dispatches KVM_EXIT_IO here. A port no device
// claims reads as all ones and ignores writes, like an empty ISA bus.

export interface IoDevice {
  readonly name: string;
  io_in?(port: number, size: number): number;
  io_out?(port: number, size: number, value: number): void;
}

export class IoBus {
  private readonly ports = new Map<number, IoDevice>();

  register(first: number, count: number, dev: IoDevice): void {
    for (let p = first; p < first + count; p++) {
      const old = this.ports.get(p);
      if (old !== undefined) throw new Error(`port 0x${p.toString(16)}: ${dev.name} collides with ${old.name}`);
      this.ports.set(p, dev);
    }
  }

  in(port: number, size: number): number {
    const d = this.ports.get(port);
    if (d?.io_in === undefined) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return d.io_in(port, size);
  }

  out(port: number, size: number, value: number): void {
    this.ports.get(port)?.io_out?.(port, size, value);
  }
}

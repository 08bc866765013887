// The Bochs/QEMU debug console on port 0xe9: bytes written go to standard output,
// like COM1; a read returns 0xe9 so a guest can detect it.

import type { IoDevice } from "../io_bus.js";

export const DEBUGCON_PORT = 0xe9;

export class Debugcon implements IoDevice {
  readonly name = "debugcon";
  constructor(private readonly tx: (byte: number) => void) {}
  io_in(): number {
    return 0xe9;
  }
  io_out(_port: number, _size: number, value: number): void {
    this.tx(value & 0xff);
  }
}

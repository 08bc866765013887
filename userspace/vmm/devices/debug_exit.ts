// QEMU's isa-debug-exit (iobase 0xf4): a write of value v ends the VMM with process
// status (v << 1) | 1, the convention kvm-unit-tests relies on.

import type { IoDevice } from "../io_bus.js";

export const DEBUG_EXIT_PORT = 0xf4;

export class DebugExit implements IoDevice {
  readonly name = "isa-debug-exit";
  /** Status the VMM should exit with, once the guest has written. */
  status: number | null = null;

  io_out(_port: number, _size: number, value: number): void {
    this.status = (((value >>> 0) << 1) | 1) & 0xff;
  }
}

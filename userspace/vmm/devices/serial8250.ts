// A 16550A UART as COM1 (ports 0x3f8-0x3ff), transmit side: bytes written to THR go
// to the VMM's standard output. LSR reports the transmitter empty (THRE | TEMT), so a
// guest that polls LSR bit 5 before each byte (as kvm-unit-tests does) never waits.
// Divisor latch, IER, FCR/IIR, LCR, MCR and SCR hold what the guest writes.

import type { IoDevice } from "../io_bus.js";

export const COM1_BASE = 0x3f8;
const UART_RX = 0, UART_TX = 0, UART_IER = 1, UART_DLM = 1, UART_IIR = 2, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7;
const UART_LCR_DLAB = 0x80;
const UART_LSR_THRE = 0x20;
const UART_LSR_TEMT = 0x40;
const UART_IIR_NO_INT = 0x01;

export class Serial8250 implements IoDevice {
  readonly name = "serial8250";
  private dll = 0x0c;
  private dlm = 0;
  private ier = 0;
  private lcr = 0x03;
  private mcr = 0;
  private scr = 0;

  constructor(
    private readonly base: number,
    private readonly tx: (byte: number) => void,
  ) {}

  io_in(port: number): number {
    switch (port - this.base) {
      case UART_RX:
        return this.lcr & UART_LCR_DLAB ? this.dll : 0; // nothing received
      case UART_IER:
        return this.lcr & UART_LCR_DLAB ? this.dlm : this.ier;
      case UART_IIR:
        return UART_IIR_NO_INT;
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return UART_LSR_THRE | UART_LSR_TEMT;
      case UART_MSR:
        return 0xb0; // DCD, DSR, CTS
      case UART_SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  io_out(port: number, _size: number, value: number): void {
    const v = value & 0xff;
    switch (port - this.base) {
      case UART_TX:
        if (this.lcr & UART_LCR_DLAB) this.dll = v;
        else this.tx(v);
        return;
      case UART_DLM:
        if (this.lcr & UART_LCR_DLAB) this.dlm = v;
        else this.ier = v & 0x0f;
        return;
      case UART_LCR:
        this.lcr = v;
        return;
      case UART_MCR:
        this.mcr = v & 0x1f;
        return;
      case UART_SCR:
        this.scr = v;
        return;
    }
  }
}


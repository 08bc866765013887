// The 8259A programmable interrupt controller pair of the PC/AT: a master at ports
// 0x20/0x21 and a slave at 0xa0/0xa1 cascaded on the master's IR2.
//
// Per chip (8259A data sheet; QEMU's hw/intc/i8259.c behaves the same way):
//   - IRR latches a rising edge on an IR line (edge-triggered mode; level mode, ICW1 bit 3,
//     is not offered: it fails loudly). IMR masks IRR; ISR holds the interrupts being served.
//   - Priorities rotate: `priority_add` names the IR line with the highest priority (0
//     after init; rotation commands move it). An IR line is delivered when its priority is
//     higher than every line in service (special mask mode ignores masked ISR bits; the
//     master in special fully nested mode ignores its cascade line's ISR bit).
//   - Command port (even): ICW1 (bit 4 set) restarts initialisation; else OCW3 (bit 3 set:
//     read-register select, poll, special mask) or OCW2 (EOI, specific EOI, rotations,
//     set priority). Data port (odd): ICW2 (vector base), ICW3 (cascade wiring, only
//     without ICW1.SNGL), ICW4 (only with ICW1.IC4: AEOI, SFNM), then OCW1 (IMR).
//   - INTA (ack): the highest-priority request moves from IRR to ISR (not in auto-EOI
//     mode) and the chip gives its vector, irq_base + line; on the cascade line the slave
//     answers; no request left at INTA time gives the spurious IR7 vector.

import type { IoDevice } from "../io_bus.js";

export const PIC_MASTER_BASE = 0x20;
export const PIC_SLAVE_BASE = 0xa0;
const CASCADE_IRQ = 2;

class Pic8259 {
  last_irr = 0;
  irr = 0;
  imr = 0;
  isr = 0;
  priority_add = 0;
  irq_base = 0;
  read_reg_select = 0;
  poll = false;
  special_mask = false;
  init_state = 0;
  auto_eoi = false;
  rotate_on_auto_eoi = false;
  special_fully_nested = false;
  init4 = false;
  single_mode = false;

  constructor(readonly master: boolean) {}

  init_reset(): void {
    this.last_irr = 0;
    this.irr = 0;
    this.imr = 0;
    this.isr = 0;
    this.priority_add = 0;
    this.irq_base = 0;
    this.read_reg_select = 0;
    this.poll = false;
    this.special_mask = false;
    this.init_state = 0;
    this.auto_eoi = false;
    this.rotate_on_auto_eoi = false;
    this.special_fully_nested = false;
    this.init4 = false;
    this.single_mode = false;
  }

  /** 0 (highest) .. 7 of the highest-priority bit of `mask`, 8 for none. */
  priority_of(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + this.priority_add) & 7))) === 0) p++;
    return p;
  }

  /** The IR line this chip would deliver now, or -1. */
  get_irq(): number {
    const p = this.priority_of(this.irr & ~this.imr);
    if (p === 8) return -1;
    let in_service = this.isr;
    if (this.special_mask) in_service &= ~this.imr;
    if (this.special_fully_nested && this.master) in_service &= ~(1 << CASCADE_IRQ);
    return p < this.priority_of(in_service) ? (p + this.priority_add) & 7 : -1;
  }

  /** Edge-triggered IR input. */
  set_irq(irq: number, level: boolean): void {
    const mask = 1 << irq;
    if (level) {
      if ((this.last_irr & mask) === 0) this.irr |= mask;
      this.last_irr |= mask;
    } else this.last_irr &= ~mask;
  }

  intack(irq: number): void {
    if (this.auto_eoi) {
      if (this.rotate_on_auto_eoi) this.priority_add = (irq + 1) & 7;
    } else this.isr |= 1 << irq;
    this.irr &= ~(1 << irq);
  }

  write_command(val: number): void {
    if ((val & 0x10) !== 0) {
      // ICW1
      if ((val & 0x08) !== 0) throw new Error("i8259: level-triggered mode (ICW1.LTIM) is not implemented");
      this.init_reset();
      this.init_state = 1;
      this.init4 = (val & 1) !== 0;
      this.single_mode = (val & 2) !== 0;
    } else if ((val & 0x08) !== 0) {
      // OCW3
      if ((val & 0x04) !== 0) this.poll = true;
      if ((val & 0x02) !== 0) this.read_reg_select = val & 1;
      if ((val & 0x40) !== 0) this.special_mask = ((val >> 5) & 1) !== 0;
    } else {
      // OCW2
      const cmd = val >> 5;
      switch (cmd) {
        case 0: // rotate in auto-EOI mode: clear
        case 4: // rotate in auto-EOI mode: set
          this.rotate_on_auto_eoi = cmd === 4;
          break;
        case 1: // non-specific EOI
        case 5: { // rotate on non-specific EOI
          const p = this.priority_of(this.isr);
          if (p !== 8) {
            const irq = (p + this.priority_add) & 7;
            this.isr &= ~(1 << irq);
            if (cmd === 5) this.priority_add = (irq + 1) & 7;
          }
          break;
        }
        case 3: // specific EOI
          this.isr &= ~(1 << (val & 7));
          break;
        case 6: // set priority: line val&7 becomes the lowest
          this.priority_add = (val + 1) & 7;
          break;
        case 7: // rotate on specific EOI
          this.isr &= ~(1 << (val & 7));
          this.priority_add = ((val & 7) + 1) & 7;
          break;
        default: // 2: no operation
          break;
      }
    }
  }

  write_data(val: number): void {
    switch (this.init_state) {
      case 0: // OCW1
        this.imr = val;
        break;
      case 1: // ICW2
        this.irq_base = val & 0xf8;
        this.init_state = this.single_mode ? (this.init4 ? 3 : 0) : 2;
        break;
      case 2: // ICW3: the wiring is fixed (slave on the master's IR2)
        this.init_state = this.init4 ? 3 : 0;
        break;
      case 3: // ICW4
        this.special_fully_nested = ((val >> 4) & 1) !== 0;
        this.auto_eoi = ((val >> 1) & 1) !== 0;
        this.init_state = 0;
        break;
    }
  }
}

/** The master/slave pair. The CPU side: `pending()` is the INTR line, `ack()` the INTA cycle. */
export class I8259 implements IoDevice {
  readonly name = "i8259";
  private readonly chips = [new Pic8259(true), new Pic8259(false)];

  /** Drive IR line `irq` (0-15) to `level`. */
  set_irq(irq: number, level: boolean): void {
    if (irq < 0 || irq > 15) throw new RangeError(`i8259: no IRQ ${irq}`);
    this.chips[irq >> 3].set_irq(irq & 7, level);
    this.update();
  }

  /** The slave's INT output drives the master's cascade input. */
  private update(): void {
    this.chips[0].set_irq(CASCADE_IRQ, this.chips[1].get_irq() >= 0);
  }

  /** INTR: an interrupt the CPU should acknowledge. */
  pending(): boolean {
    return this.chips[0].get_irq() >= 0;
  }

  /** INTA: the vector of the interrupt now being delivered. */
  ack(): number {
    const [m, s] = this.chips;
    const irq = m.get_irq();
    let vector: number;
    if (irq < 0) vector = m.irq_base + 7;
    else {
      if (irq === CASCADE_IRQ) {
        const irq2 = s.get_irq();
        if (irq2 >= 0) {
          s.intack(irq2);
          vector = s.irq_base + irq2;
        } else vector = s.irq_base + 7;
      } else vector = m.irq_base + irq;
      m.intack(irq);
    }
    this.update();
    return vector;
  }

  io_in(port: number): number {
    const chip = this.chips[port >= PIC_SLAVE_BASE ? 1 : 0];
    if (chip.poll) {
      // Poll command: the next read acknowledges like INTA and returns 0x80 | line.
      chip.poll = false;
      const irq = chip.get_irq();
      let ret = 0;
      if (irq >= 0) {
        chip.intack(irq);
        ret = 0x80 | irq;
      }
      this.update();
      return ret;
    }
    if ((port & 1) === 0) return chip.read_reg_select ? chip.isr : chip.irr;
    return chip.imr;
  }

  io_out(port: number, _size: number, value: number): void {
    const chip = this.chips[port >= PIC_SLAVE_BASE ? 1 : 0];
    if ((port & 1) === 0) chip.write_command(value & 0xff);
    else chip.write_data(value & 0xff);
    this.update();
  }

  /** For tests and `lkvm stat`-style dumps: (master, slave) registers. */
  state(): { irr: number; imr: number; isr: number; irq_base: number }[] {
    return this.chips.map((c) => ({ irr: c.irr, imr: c.imr, isr: c.isr, irq_base: c.irq_base }));
  }
}

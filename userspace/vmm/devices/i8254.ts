// The 8254 programmable interval timer at ports 0x40-0x43: three 16-bit down-counters
// clocked at 1.193182 MHz; channel 0's OUT drives IRQ0.
//
// Time is the VMM's virtual clock (VirtualClock), counted in periods of the PIT's input
// clock, so the counters are integers and a run is deterministic. Who advances the clock
// and by how much is the VMM's choice (vmm.ts, boot/bare.ts); the PIT only reads it.
//
// Control word (port 0x43): SC1 SC0 | RW1 RW0 | M2 M1 M0 | BCD. SC = 3 is read-back
// (bits 5: don't latch count, 4: don't latch status, 1-3: channels); RW = 0 latches the
// count; RW = 1 low byte, 2 high byte, 3 low then high. Modes 0 (interrupt on terminal
// count), 2 (rate generator) and 3 (square wave) are modelled; 1, 4 and 5 need a gate
// edge (channel 0 and 1 gates are tied high; channel 2's gate at port 0x61 is not
// modelled) and fail loudly, as does BCD counting. A count of 0 means 65536.
//
// Counter values (as QEMU's hw/timer/i8254_common.c computes them), d = clocks since load:
//   mode 0: (N - d) mod 65536;  mode 2: N - d mod N;  mode 3: N - (2d) mod N.
// OUT of channel 0 rises (the PIC sees an edge) at load + N in mode 0, once, and at
// load + kN, k >= 1, in modes 2 and 3.

import type { IoDevice } from "../io_bus.js";

export const PIT_BASE = 0x40;
export const PIT_FREQ_HZ = 1193182;

/** The VMM's virtual time, in periods of the 1.193182 MHz PIT input clock. */
export class VirtualClock {
  now = 0;
  advance(ticks: number): void {
    this.now += ticks;
  }
  advance_to(t: number): void {
    if (t > this.now) this.now = t;
  }
}

interface Channel {
  mode: number;
  rw_mode: number;
  /** Next write: the low byte (false) or the high byte (true) of a lobyte/hibyte pair. */
  write_hi: boolean;
  read_hi: boolean;
  write_latch: number;
  /** Count latched by a latch command or read-back: value and its read state. */
  latched: number | null;
  latched_rw: number;
  latched_hi: boolean;
  status_latched: number | null;
  /** The programmed count N (1..65536), or null before the first load. */
  count: number | null;
  load_time: number;
  null_count: boolean;
}

function new_channel(): Channel {
  return {
    mode: 0, rw_mode: 3, write_hi: false, read_hi: false, write_latch: 0, latched: null, latched_rw: 0, latched_hi: false,
    status_latched: null, count: null, load_time: 0, null_count: true,
  };
}

export class I8254 implements IoDevice {
  readonly name = "i8254";
  private readonly ch: Channel[] = [new_channel(), new_channel(), new_channel()];
  /** Clock time of the last IRQ0 edge delivered. */
  private irq_done = 0;

  /** `irq0(level)` drives the PIC's IR0 from channel 0's OUT. */
  constructor(private readonly clock: VirtualClock, private readonly irq0: (level: boolean) => void) {}

  /** The time of channel 0's next rising OUT edge not yet delivered, or null. */
  next_deadline(): number | null {
    const c = this.ch[0];
    if (c.count === null) return null;
    const n = c.count;
    if (c.mode === 0) {
      const t = c.load_time + n;
      return t > this.irq_done ? t : null;
    }
    // Modes 2 and 3: load + kN, the first one after irq_done.
    const from = Math.max(this.irq_done, c.load_time);
    const k = Math.floor((from - c.load_time) / n) + 1;
    return c.load_time + k * n;
  }

  /** Deliver channel 0's edges up to the clock: one PIC edge, however many periods passed
   *  (IRR holds one request per line, as on hardware when the CPU falls behind). */
  update(): void {
    const t = this.next_deadline();
    if (t === null || t > this.clock.now) return;
    const c = this.ch[0];
    const n = c.count!;
    this.irq_done = c.mode === 0 ? t : c.load_time + Math.floor((this.clock.now - c.load_time) / n) * n;
    this.irq0(true);
    this.irq0(false);
  }

  private counter(c: Channel): number {
    if (c.count === null) return 0;
    const d = this.clock.now - c.load_time;
    const n = c.count;
    switch (c.mode) {
      case 2:
        return n - (d % n);
      case 3:
        return n - ((2 * d) % n);
      default:
        return ((n - d) % 0x10000 + 0x10000) % 0x10000;
    }
  }

  private out_level(c: Channel): number {
    if (c.count === null) return 0;
    const d = this.clock.now - c.load_time;
    const n = c.count;
    switch (c.mode) {
      case 0:
        return d >= n ? 1 : 0;
      case 2:
        return d % n === n - 1 ? 0 : 1;
      case 3:
        return d % n < (n + 1) >> 1 ? 1 : 0;
      default:
        return 1;
    }
  }

  private load(i: number, c: Channel, value: number): void {
    this.update();
    c.count = value === 0 ? 0x10000 : value;
    c.load_time = this.clock.now;
    c.null_count = false;
    if (i === 0) this.irq_done = this.clock.now;
  }

  private control(value: number): void {
    const sc = value >> 6;
    if (sc === 3) {
      // Read-back: bit 5 clear latches the count, bit 4 clear the status, of each channel selected by bits 1-3.
      for (let i = 0; i < 3; i++) {
        if ((value & (2 << i)) === 0) continue;
        const c = this.ch[i];
        if ((value & 0x20) === 0 && c.latched === null) this.latch(c);
        if ((value & 0x10) === 0 && c.status_latched === null)
          c.status_latched = (this.out_level(c) << 7) | ((c.null_count ? 1 : 0) << 6) | (c.rw_mode << 4) | (c.mode << 1);
      }
      return;
    }
    const c = this.ch[sc];
    const rw = (value >> 4) & 3;
    if (rw === 0) {
      if (c.latched === null) this.latch(c);
      return;
    }
    if ((value & 1) !== 0) throw new Error("i8254: BCD counting is not implemented");
    let mode = (value >> 1) & 7;
    if (mode >= 6) mode -= 4; // 6 and 7 are aliases of 2 and 3
    if (mode !== 0 && mode !== 2 && mode !== 3) throw new Error(`i8254: mode ${mode} is not implemented`);
    if (sc === 0) this.update();
    c.mode = mode;
    c.rw_mode = rw;
    c.write_hi = false;
    c.read_hi = false;
    c.count = null; // a new control word stops the counter until a count is written
    c.null_count = true;
  }

  private latch(c: Channel): void {
    c.latched = this.counter(c);
    c.latched_rw = c.rw_mode;
    c.latched_hi = false;
  }

  io_in(port: number): number {
    if (port === PIT_BASE + 3) return 0xff;
    const c = this.ch[port - PIT_BASE];
    if (c.status_latched !== null) {
      const s = c.status_latched;
      c.status_latched = null;
      return s;
    }
    if (c.latched !== null) {
      const v = c.latched;
      switch (c.latched_rw) {
        case 1:
          c.latched = null;
          return v & 0xff;
        case 2:
          c.latched = null;
          return v >> 8 & 0xff;
        default:
          if (!c.latched_hi) {
            c.latched_hi = true;
            return v & 0xff;
          }
          c.latched = null;
          return (v >> 8) & 0xff;
      }
    }
    const v = this.counter(c);
    switch (c.rw_mode) {
      case 1:
        return v & 0xff;
      case 2:
        return (v >> 8) & 0xff;
      default:
        c.read_hi = !c.read_hi;
        return c.read_hi ? v & 0xff : (v >> 8) & 0xff;
    }
  }

  io_out(port: number, _size: number, value: number): void {
    value &= 0xff;
    if (port === PIT_BASE + 3) {
      this.control(value);
      return;
    }
    const i = port - PIT_BASE;
    const c = this.ch[i];
    switch (c.rw_mode) {
      case 1:
        this.load(i, c, value);
        break;
      case 2:
        this.load(i, c, value << 8);
        break;
      default:
        if (!c.write_hi) {
          c.write_latch = value;
          c.write_hi = true;
        } else {
          c.write_hi = false;
          this.load(i, c, c.write_latch | (value << 8));
        }
    }
  }
}

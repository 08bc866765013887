// The VMM's 8259 PIC pair and 8254 PIT, driven through their ports as a guest drives them.

import { describe, expect, it } from "vitest";
import { I8259 } from "../../../userspace/vmm/devices/i8259.js";
import { I8254, VirtualClock } from "../../../userspace/vmm/devices/i8254.js";

function init_pics(pic: I8259, icw4 = 0x01): void {
  pic.io_out(0x20, 1, 0x11); pic.io_out(0xa0, 1, 0x11);
  pic.io_out(0x21, 1, 0x20); pic.io_out(0xa1, 1, 0x28);
  pic.io_out(0x21, 1, 0x04); pic.io_out(0xa1, 1, 0x02);
  pic.io_out(0x21, 1, icw4); pic.io_out(0xa1, 1, 0x01);
  pic.io_out(0x21, 1, 0x00); pic.io_out(0xa1, 1, 0x00);
}
const edge = (pic: I8259, irq: number) => { pic.set_irq(irq, true); pic.set_irq(irq, false); };
const isr = (pic: I8259, cmd: number) => { pic.io_out(cmd, 1, 0x0b); return pic.io_in(cmd); };
const irr = (pic: I8259, cmd: number) => { pic.io_out(cmd, 1, 0x0a); return pic.io_in(cmd); };

describe("i8259", () => {
  it("ICW1-4 remap the vectors; OCW1 masks; IRR latches edges only", () => {
    const pic = new I8259();
    init_pics(pic);
    pic.io_out(0x21, 1, 0xfe);
    expect(pic.io_in(0x21)).toBe(0xfe);
    pic.set_irq(1, true);
    expect(irr(pic, 0x20)).toBe(0x02);
    expect(pic.pending()).toBe(false); // masked
    pic.set_irq(1, true); // still high: no new edge
    pic.io_out(0x21, 1, 0x00);
    expect(pic.pending()).toBe(true);
    expect(pic.ack()).toBe(0x21);
    expect(isr(pic, 0x20)).toBe(0x02);
    expect(pic.pending()).toBe(false); // the level did not fall and rise again
  });

  it("priorities: IR0 over IR1; a lower request waits for EOI, a higher one nests", () => {
    const pic = new I8259();
    init_pics(pic);
    edge(pic, 1);
    expect(pic.ack()).toBe(0x21);
    edge(pic, 3);
    expect(pic.pending()).toBe(false); // IR3 is below IR1 in service
    edge(pic, 0);
    expect(pic.ack()).toBe(0x20); // IR0 nests
    expect(isr(pic, 0x20)).toBe(0x03);
    pic.io_out(0x20, 1, 0x20); // non-specific EOI: the highest in service, IR0
    expect(isr(pic, 0x20)).toBe(0x02);
    expect(pic.pending()).toBe(false);
    pic.io_out(0x20, 1, 0x61); // specific EOI for IR1
    expect(isr(pic, 0x20)).toBe(0x00);
    expect(pic.ack()).toBe(0x23);
  });

  it("the slave cascades on IR2; both chips need an EOI", () => {
    const pic = new I8259();
    init_pics(pic);
    edge(pic, 12);
    expect(pic.pending()).toBe(true);
    expect(pic.ack()).toBe(0x2c);
    expect(isr(pic, 0x20)).toBe(0x04);
    expect(isr(pic, 0xa0)).toBe(0x10);
    pic.io_out(0xa0, 1, 0x20);
    pic.io_out(0x20, 1, 0x20);
    expect(isr(pic, 0x20) | isr(pic, 0xa0)).toBe(0);
    pic.io_out(0xa1, 1, 0xff);
    edge(pic, 9);
    expect(pic.pending()).toBe(false);
    expect(irr(pic, 0xa0)).toBe(0x02);
  });

  it("auto-EOI leaves ISR clear; rotation and spurious IR7", () => {
    const pic = new I8259();
    init_pics(pic, 0x03);
    edge(pic, 0);
    expect(pic.ack()).toBe(0x20);
    expect(isr(pic, 0x20)).toBe(0);
    init_pics(pic);
    pic.io_out(0x20, 1, 0xc0); // set priority: IR0 lowest, IR1 highest
    edge(pic, 0); edge(pic, 5);
    expect(pic.ack()).toBe(0x25);
    pic.io_out(0x20, 1, 0x20);
    expect(pic.ack()).toBe(0x20);
    pic.io_out(0x20, 1, 0x20);
    expect(pic.ack()).toBe(0x27); // nothing pending: spurious IR7
    expect(isr(pic, 0x20)).toBe(0);
  });

  it("poll mode acknowledges on read", () => {
    const pic = new I8259();
    init_pics(pic);
    edge(pic, 4);
    pic.io_out(0x20, 1, 0x0c);
    expect(pic.io_in(0x20)).toBe(0x84);
    expect(isr(pic, 0x20)).toBe(0x10);
  });
});

describe("i8254", () => {
  function setup() {
    const clock = new VirtualClock();
    const edges: number[] = [];
    const pit = new I8254(clock, (level) => { if (level) edges.push(clock.now); });
    return { clock, pit, edges };
  }

  it("mode 2: IRQ0 edges every N clocks; one edge however many periods pass", () => {
    const { clock, pit, edges } = setup();
    expect(pit.next_deadline()).toBe(null);
    pit.io_out(0x43, 1, 0x34);
    pit.io_out(0x40, 1, 100); pit.io_out(0x40, 1, 0);
    expect(pit.next_deadline()).toBe(100);
    clock.advance_to(99); pit.update();
    expect(edges).toEqual([]);
    clock.advance_to(100); pit.update();
    expect(edges).toEqual([100]);
    expect(pit.next_deadline()).toBe(200);
    clock.advance_to(450); pit.update();
    expect(edges).toEqual([100, 450]);
    expect(pit.next_deadline()).toBe(500);
  });

  it("counter latch and lobyte/hibyte reads; mode 3 counts by two", () => {
    const { clock, pit } = setup();
    pit.io_out(0x43, 1, 0x34);
    pit.io_out(0x40, 1, 0x00); pit.io_out(0x40, 1, 0x10); // 0x1000
    clock.advance(0x10);
    pit.io_out(0x43, 1, 0x00);
    clock.advance(0x100); // the latch holds
    expect(pit.io_in(0x40) | (pit.io_in(0x40) << 8)).toBe(0xff0);
    pit.io_out(0x43, 1, 0x26); // mode 3, high byte only
    pit.io_out(0x40, 1, 0x01); // N = 0x100
    clock.advance(0x10);
    expect(pit.io_in(0x40)).toBe(0x00); // 0x100 - 0x20 = 0xe0: high byte 0
    pit.io_out(0x43, 1, 0x16); // channel 0, low byte only, mode 3
    pit.io_out(0x40, 1, 0x80);
    clock.advance(0x10);
    expect(pit.io_in(0x40)).toBe(0x60);
  });

  it("mode 0 fires once; read-back gives the status byte", () => {
    const { clock, pit, edges } = setup();
    pit.io_out(0x43, 1, 0x30);
    pit.io_out(0x40, 1, 50); pit.io_out(0x40, 1, 0);
    pit.io_out(0x43, 1, 0xe2); // read-back status of channel 0
    expect(pit.io_in(0x40)).toBe(0x30); // OUT low, count loaded, lohi, mode 0
    clock.advance_to(1000); pit.update();
    expect(edges).toEqual([1000]); // delivered when the clock got there
    expect(pit.next_deadline()).toBe(null);
    pit.io_out(0x43, 1, 0xe2);
    expect(pit.io_in(0x40)).toBe(0xb0);
  });

  it("modes without a gate edge and BCD fail loudly", () => {
    const { pit } = setup();
    expect(() => pit.io_out(0x43, 1, 0x32)).toThrow(/mode 1/);
    expect(() => pit.io_out(0x43, 1, 0x35)).toThrow(/BCD/);
  });
});

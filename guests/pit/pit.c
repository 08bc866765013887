/*
 * pit: timer interrupts through the 8259 PIC pair from the 8254 PIT. The PICs are remapped
 * to vectors 0x20 (master) and 0x28 (slave); PIT channel 0 runs in mode 2 at 100 Hz, then
 * in mode 3 at 1 kHz, then with the master in auto-EOI mode, then once in mode 0; the
 * guest waits for each tick with `sti; hlt` and counts them in an IRQ0 handler that reads
 * the ISR and sends a non-specific or a specific EOI. Everything printed is independent of
 * how fast the host runs: tick counts the guest waited for, register reads whose value
 * the data sheet fixes, and range checks on the latched counter.
 */
#include "../lib/rt.h"
#include "../lib/idt.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_HZ 1193182u

static volatile u32 ticks;
static volatile u32 bad_vector;
static volatile int aeoi;
static volatile u8 isr_in_handler, isr_after_eoi;

static u8 pic_isr(u16 cmd) { outb(cmd, 0x0b); return inb(cmd); }

static void tick(struct trapframe *tf)
{
	if (tf->vector != 0x20)
		bad_vector = tf->vector;
	isr_in_handler = pic_isr(PIC1_CMD);
	if (!aeoi) {
		/* Alternate non-specific EOI (OCW2 0x20) and specific EOI for IR0 (0x60). */
		outb(PIC1_CMD, (ticks & 1) ? 0x60 : 0x20);
		isr_after_eoi = pic_isr(PIC1_CMD);
	}
	ticks++;
}

static void pic_init(int icw4)
{
	outb(PIC1_CMD, 0x11);	/* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20);	/* ICW2: vector base */
	outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04);	/* ICW3: slave on IR2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, (u8)icw4);	/* ICW4: 8086 mode (+ AEOI) */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff);	/* OCW1: mask everything */
	outb(PIC2_DATA, 0xff);
}

static void pit_start(u8 control, u16 divisor)
{
	outb(PIT_CMD, control);
	outb(PIT_CH0, (u8)divisor);
	outb(PIT_CH0, (u8)(divisor >> 8));
}

static void wait_ticks(u32 n)
{
	ticks = 0;
	outb(PIC1_DATA, 0xfe);	/* unmask IRQ0 */
	while (ticks < n)
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	outb(PIC1_DATA, 0xff);
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	idt_install();
	idt_set(0x20, tick, GATE_INTR, 0);
	pic_init(0x01);
	printf("pic: imr master=%02x slave=%02x isr master=%02x slave=%02x\n",
	       inb(PIC1_DATA), inb(PIC2_DATA), pic_isr(PIC1_CMD), pic_isr(PIC2_CMD));

	u16 div = (u16)((PIT_HZ + 50) / 100);
	pit_start(0x34, div);	/* channel 0, lobyte/hibyte, mode 2 */
	outb(PIT_CMD, 0x00);	/* counter latch */
	u16 lo = inb(PIT_CH0), hi = inb(PIT_CH0);
	u16 v = (u16)(lo | hi << 8);
	printf("pit: divisor %u, latched count in 1..%u: %s\n", div, div, v >= 1 && v <= div ? "yes" : "no");

	wait_ticks(10);
	printf("mode 2, 100 Hz: %u ticks, vector %s, isr in handler=%02x after eoi=%02x\n",
	       ticks, bad_vector ? "BAD" : "0x20", isr_in_handler, isr_after_eoi);

	pit_start(0x36, (u16)((PIT_HZ + 500) / 1000));	/* mode 3, 1 kHz */
	wait_ticks(25);
	printf("mode 3, 1 kHz: %u ticks, isr in handler=%02x after eoi=%02x\n", ticks, isr_in_handler, isr_after_eoi);

	pic_init(0x03);	/* auto-EOI */
	aeoi = 1;
	wait_ticks(5);
	aeoi = 0;
	printf("auto-eoi: %u ticks, isr in handler=%02x, imr=%02x\n", ticks, isr_in_handler, inb(PIC1_DATA));
	pic_init(0x01);

	pit_start(0x30, (u16)(PIT_HZ / 200));	/* mode 0, one shot after 5 ms */
	wait_ticks(1);
	printf("mode 0: %u tick, isr after eoi=%02x\n", ticks, isr_after_eoi);

	printf("pic: imr master=%02x slave=%02x isr master=%02x slave=%02x\n",
	       inb(PIC1_DATA), inb(PIC2_DATA), pic_isr(PIC1_CMD), pic_isr(PIC2_CMD));
	return bad_vector ? 1 : 0;
}

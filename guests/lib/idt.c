#include "idt.h"

struct idt_gate { u16 off_lo, sel; u8 zero, type_attr; u16 off_hi; } __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(8)));
static trap_handler handlers[256];
extern const u32 isr_table[256];

void unexpected_trap(struct trapframe *tf)
{
	printf("unexpected trap %u err=%x at %x:%x eflags=%x\n", tf->vector, tf->err, tf->cs, tf->eip, tf->eflags);
	exit(0x7f);
}

void idt_set(int vector, trap_handler fn, u8 type, int dpl)
{
	u32 a = isr_table[vector];
	idt[vector].off_lo = (u16)a;
	idt[vector].off_hi = (u16)(a >> 16);
	idt[vector].sel = KERNEL_CS;
	idt[vector].zero = 0;
	idt[vector].type_attr = (u8)(type | (dpl << 5));
	handlers[vector] = fn;
}

void idt_set_present(int vector, int present)
{
	if (present)
		idt[vector].type_attr |= 0x80;
	else
		idt[vector].type_attr &= 0x7f;
}

void idt_install(void)
{
	for (int v = 0; v < 256; v++)
		idt_set(v, unexpected_trap, GATE_INTR, 0);
	struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void trap_dispatch(struct trapframe *tf);
void trap_dispatch(struct trapframe *tf)
{
	handlers[tf->vector](tf);
}

/*
 * The guests' IDT: 256 gates, each entering a stub in isr.S that pushes a uniform
 * trap frame (a zero where the CPU pushes no error code) and calls the C handler
 * registered for the vector. A handler may change the frame (EIP, EFLAGS, registers)
 * before it is restored by IRET.
 */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H
#include "rt.h"

struct trapframe {
	u32 gs, fs, es, ds;
	u32 edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
	u32 vector, err;
	u32 eip, cs, eflags;
	u32 esp, ss;	/* pushed only on a privilege change (entry from ring 3) */
};

typedef void (*trap_handler)(struct trapframe *tf);

#define GATE_INTR	0x8e	/* interrupt gate: clears EFLAGS.IF */
#define GATE_TRAP	0x8f	/* trap gate */

void idt_install(void);
/* Route `vector` to `fn` through a gate of `type` with descriptor privilege `dpl`. */
void idt_set(int vector, trap_handler fn, u8 type, int dpl);
/* Clear the present bit of a gate (the CPU then raises #NP on delivery). */
void idt_set_present(int vector, int present);
/* The handler every vector starts with: prints the frame and exits with 0x7f. */
void unexpected_trap(struct trapframe *tf);

#endif

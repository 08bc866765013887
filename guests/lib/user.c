#include "user.h"

static jmp_buf user_return;
u32 user_eflags = 0x2;

static void sys_handler(struct trapframe *tf)
{
	switch (tf->eax) {
	case SYS_EXIT:
		user_abort((int)tf->ebx);
	case SYS_PRINTF:
		printf((const char *)tf->ebx, tf->ecx);
		tf->eax = 0;
		break;
	case SYS_GETCPL:
		tf->eax = tf->cs & 3;
		break;
	default:
		tf->eax = (u32)-1;
		break;
	}
}

void user_init(u32 kstack_top)
{
	tss_install(kstack_top);
	idt_set(SYSCALL_VECTOR, sys_handler, GATE_TRAP, 3);
}

void user_abort(int value)
{
	__asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(KERNEL_DS));
	longjmp(user_return, value + 1);
}

int run_user(void (*fn)(void), u32 ustack_top)
{
	int v = setjmp(user_return);
	if (v != 0)
		return v - 1;
	__asm__ volatile(
		"mov %0, %%ds\n\t"
		"mov %0, %%es\n\t"
		"mov %0, %%fs\n\t"
		"mov %0, %%gs\n\t"
		"pushl %0\n\t"		/* SS */
		"pushl %1\n\t"		/* ESP */
		"pushl %4\n\t"		/* EFLAGS */
		"pushl %2\n\t"		/* CS */
		"pushl %3\n\t"		/* EIP */
		"iret"
		: : "r"((u32)USER_DS), "r"(ustack_top), "i"(USER_CS), "r"(fn), "r"(user_eflags) : "memory");
	__builtin_unreachable();
}

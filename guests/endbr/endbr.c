/*
 * endbr: code as compilers with -fcf-protection emit it (Ubuntu's and Fedora's default,
 * and every function of Debian's i386 libgcc): each function, and each indirect-branch
 * target, starts with ENDBR32 (F3 0F 1E FB), which a CPU without CET executes as a NOP
 * (0F 1E is in the 0F 18-0F 1F hint-NOP space of P6 and later). Also the other hint NOPs
 * (0F 19-0F 1E with a ModR/M operand, never accessed) and the multi-byte NOP 0F 1F.
 * Built with -fcf-protection=full. A CPU that raises #UD on them ends at the first call.
 */
#include "../lib/idt.h"

static void ud_handler(struct trapframe *tf)
{
	printf("#UD at %x: %02x %02x %02x %02x\n", tf->eip, ((u8 *)tf->eip)[0], ((u8 *)tf->eip)[1], ((u8 *)tf->eip)[2],
	       ((u8 *)tf->eip)[3]);
	exit(0x7e);
}

static int __attribute__((noinline)) square(int x) { return x * x; }
static int __attribute__((noinline)) twice(int (*f)(int), int x) { return f(f(x)); }

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	idt_install();
	idt_set(6, ud_handler, GATE_INTR, 0);
	printf("endbr\n");
	__asm__ volatile("endbr32");
	printf("endbr32 is a NOP\n");
	int (*volatile f)(int) = square;
	printf("indirect call through endbr32 functions: %d\n", twice(f, 7));
	__asm__ volatile(".byte 0x0f, 0x19, 0x00\n\t"		/* hint nop (%eax) */
			 ".byte 0x0f, 0x1a, 0xc0\n\t"		/* hint nop %eax (mod 3) */
			 ".byte 0x0f, 0x1b, 0x44, 0x24, 0x08\n\t"	/* hint nop 8(%esp) */
			 ".byte 0x0f, 0x1c, 0x05, 0, 0, 0, 0xf0\n\t"	/* hint nop 0xf0000000: never accessed */
			 ".byte 0x0f, 0x1d, 0x04, 0x24\n\t"	/* hint nop (%esp) */
			 ".byte 0x0f, 0x1e, 0xc8\n\t"		/* hint nop %eax */
			 ".byte 0x0f, 0x1f, 0x80, 0, 0, 0, 0\n\t"	/* nopl 0(%eax) */
			 ".byte 0x66, 0x0f, 0x1f, 0x44, 0, 0"	/* nopw 0(%eax,%eax) */
			 : : "a"(0) : "memory");
	printf("0F 19-0F 1F hint NOPs: ok\n");
	return 0;
}

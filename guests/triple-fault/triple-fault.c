/*
 * triple-fault: prints a line, then loads an empty IDT and executes INT3. Delivering #BP
 * needs IDT entry 3: beyond the limit, #GP; delivering #GP: #GP again, so #DF; delivering
 * #DF fails too: the CPU shuts down. QEMU with -no-reboot then exits with status 0, and
 * lkvm --bare does the same (guests/triple-fault/expected.status records QEMU's).
 */
#include "../lib/rt.h"

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	printf("triple-fault: loading an empty IDT, then int3\n");
	struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { 0, 0 };
	__asm__ volatile("lidt %0; int3" : : "m"(idtr));
	printf("still running: the CPU did not shut down\n");
	return 1;
}

/*
 * mbinfo: checks the machine state a multiboot v1 loader hands over (QEMU's -kernel and
 * lkvm's --kernel must agree): EAX magic, the multiboot_info memory fields, the flat
 * segment selectors QEMU's loader uses (CS 0x08, data 0x10), protected mode with paging
 * off and interrupts off. Prints on COM1 and on the 0xE9 debug console.
 */
#include "../lib/rt.h"

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	serial_init();
	printf("mbinfo: magic=%08x (%s)\n", magic, magic == MULTIBOOT_BOOTLOADER_MAGIC ? "ok" : "BAD");
	/* QEMU's option ROM takes these from SeaBIOS (INT 12h: 639, E820: RAM less 1 MiB less
	 * 128 KiB of reserved memory), lkvm from RAM alone (640, RAM less 1 MiB): print what
	 * both must agree on. */
	printf("flags.mem=%u mem_lower in 512..640: %s\n", mbi->flags & MULTIBOOT_INFO_MEMORY,
	       mbi->mem_lower >= 512 && mbi->mem_lower <= 640 ? "yes" : "no");
	printf("ram=%u MiB (mem_upper + 1 MiB, rounded)\n", (mbi->mem_upper + 1024 + 512) / 1024);
	printf("cs=%04x ds=%04x es=%04x ss=%04x fs=%04x gs=%04x\n",
	       entry_sel[0], entry_sel[1], entry_sel[2], entry_sel[3], entry_sel[4], entry_sel[5]);
	printf("cr0.pe=%u cr0.pg=%u eflags.if=%u eflags.df=%u\n",
	       entry_cr0 & CR0_PE, entry_cr0 >> 31, (entry_eflags >> 9) & 1, (entry_eflags >> 10) & 1);
	printf("mbi below 1 MiB or after the image: %s\n", (u32)mbi >= 0x100000 || (u32)mbi < 0xa0000 ? "yes" : "no");
	console = CON_E9;
	printf("debugcon: hello on port 0xe9\n");
	console = CON_COM1 | CON_E9;
	printf("both: ");
	console = CON_COM1;
	printf("serial again\n");
	return magic == MULTIBOOT_BOOTLOADER_MAGIC && (mbi->flags & MULTIBOOT_INFO_MEMORY) ? 0 : 1;
}

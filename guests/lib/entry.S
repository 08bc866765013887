/*
 * Multiboot v1 entry of every C guest. The loader (QEMU's or lkvm's) enters _start in
 * 32-bit protected mode with paging off, flat segments, EAX = 0x2BADB002 and EBX = the
 * physical address of the multiboot_info block. The entry state is saved for guests that
 * check it, the guest's own GDT is loaded (the multiboot spec leaves GDTR undefined), and
 * kmain(magic, mbi) runs; its return value is the isa-debug-exit code.
 */
#define MULTIBOOT_HEADER_MAGIC	0x1BADB002
/* bit 0: page-align modules; bit 1: mem_* fields requested */
#define MULTIBOOT_HEADER_FLAGS	0x00000003

	.section .multiboot, "a"
	.align	4
multiboot_header:
	.long	MULTIBOOT_HEADER_MAGIC
	.long	MULTIBOOT_HEADER_FLAGS
	.long	-(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)

	.text
	.globl	_start
_start:
	mov	%eax, entry_eax
	mov	%ebx, entry_ebx
	mov	%cs, entry_sel + 0
	mov	%ds, entry_sel + 2
	mov	%es, entry_sel + 4
	mov	%ss, entry_sel + 6
	mov	%fs, entry_sel + 8
	mov	%gs, entry_sel + 10
	mov	%esp, entry_esp
	pushf
	popl	entry_eflags
	mov	%cr0, %ecx
	mov	%ecx, entry_cr0
	mov	$boot_stack_top, %esp
	xor	%ebp, %ebp
	/* clear .bss (the loaders zero p_memsz beyond p_filesz, but be explicit) */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	cld
	rep stosb
	/* the entry words live in .data, not .bss, so they survive */
	call	gdt_install
	pushl	entry_ebx
	pushl	entry_eax
	call	kmain
	push	%eax
	call	exit
1:	cli
	hlt
	jmp	1b

	.data
	.align	4
	.globl	entry_eax, entry_ebx, entry_sel, entry_eflags, entry_cr0, entry_esp
entry_eax:	.long 0
entry_ebx:	.long 0
entry_esp:	.long 0
entry_eflags:	.long 0
entry_cr0:	.long 0
entry_sel:	.word 0, 0, 0, 0, 0, 0

	.section .bss
	.align	16
	.globl	boot_stack_top
boot_stack:
	.skip	65536
boot_stack_top:

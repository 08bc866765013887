/*
 * aspace: a guest that switches address spaces often, for bench/mmu.ts (shadow paging
 * against EPT). Flat image linked to run at 0x1000, entered in real mode (cs = 0).
 *
 * It enters 32-bit protected mode, builds NSPACE page directories that share one page
 * table identity-mapping the first 4 MiB (code, tables, stack) and each map NPAGES pages
 * of their own at linear 0x40000000, turns paging on, and then ITERS times switches to
 * every address space in turn (MOV to CR3) and adds the iteration number into the first
 * word of each of its pages. At the end it sums every word through every address space,
 * prints "aspace sum=XXXXXXXX" on the 0xe9 debug console, and halts.
 *
 * Guest-physical layout:
 *   0x001000  this code          0x002000  GDT (in .data, below)
 *   0x010000  page table 0: linear 0-4 MiB identity (shared, supervisor, writable)
 *   0x011000  page directory of space i at 0x11000 + i * 0x1000 (i < NSPACE)
 *   0x030000  user page table of space i at 0x30000 + i * 0x1000
 *   0x400000  data: page j of space i at 0x400000 + (i * NPAGES + j) * 0x1000
 */
	.set	NSPACE, 8
	.set	NPAGES, 16
	.set	ITERS, 40
	.set	PT0, 0x10000
	.set	PD_BASE, 0x11000
	.set	UPT_BASE, 0x30000
	.set	DATA, 0x400000
	.set	ULIN, 0x40000000

	.code16
	.text
	.globl	_start
_start:
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	lgdtl	gdtr
	mov	%cr0, %eax
	or	$1, %eax			/* CR0.PE */
	mov	%eax, %cr0
	ljmpl	$0x08, $pm32

	.code32
pm32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x9000, %esp

	/* Page table 0: 1024 PTEs, linear = physical, present | writable. */
	mov	$PT0, %edi
	xor	%eax, %eax
1:	lea	3(%eax), %edx
	mov	%edx, (%edi)
	add	$4, %edi
	add	$0x1000, %eax
	cmp	$0x400000, %eax
	jb	1b

	/* Page directories and user page tables. */
	xor	%ecx, %ecx			/* space */
2:	mov	%ecx, %edi
	shl	$12, %edi
	add	$PD_BASE, %edi			/* PD of space ecx */
	push	%ecx
	push	%edi
	mov	$1024, %ecx			/* clear it */
	xor	%eax, %eax
	rep stosl
	pop	%edi
	pop	%ecx
	movl	$(PT0 + 3), (%edi)		/* PDE 0: the shared page table */
	mov	%ecx, %eax
	shl	$12, %eax
	add	$(UPT_BASE + 7), %eax
	mov	%eax, (ULIN >> 22) * 4(%edi)	/* PDE 256: this space's user table */
	/* user table: NPAGES PTEs -> the space's data pages, present | writable | user */
	mov	%ecx, %edi
	shl	$12, %edi
	add	$UPT_BASE, %edi
	mov	%ecx, %eax
	imul	$(NPAGES * 0x1000), %eax
	add	$(DATA + 7), %eax
	xor	%edx, %edx
3:	mov	%eax, (%edi,%edx,4)
	add	$0x1000, %eax
	inc	%edx
	cmp	$NPAGES, %edx
	jb	3b
	inc	%ecx
	cmp	$NSPACE, %ecx
	jb	2b

	mov	$PD_BASE, %eax
	mov	%eax, %cr3
	mov	%cr0, %eax
	or	$0x80000000, %eax		/* CR0.PG */
	mov	%eax, %cr0

	/* The loop: ITERS rounds over every address space. */
	xor	%ebx, %ebx			/* iteration */
4:	xor	%ecx, %ecx			/* space */
5:	mov	%ecx, %eax
	shl	$12, %eax
	add	$PD_BASE, %eax
	mov	%eax, %cr3			/* switch address space */
	mov	$ULIN, %edi
	mov	$NPAGES, %edx
6:	add	%ebx, (%edi)
	add	$0x1000, %edi
	dec	%edx
	jnz	6b
	inc	%ecx
	cmp	$NSPACE, %ecx
	jb	5b
	inc	%ebx
	cmp	$ITERS, %ebx
	jb	4b

	/* Sum every first word through its own address space. */
	xor	%esi, %esi
	xor	%ecx, %ecx
7:	mov	%ecx, %eax
	shl	$12, %eax
	add	$PD_BASE, %eax
	mov	%eax, %cr3
	mov	$ULIN, %edi
	mov	$NPAGES, %edx
8:	add	(%edi), %esi
	add	$0x1000, %edi
	dec	%edx
	jnz	8b
	inc	%ecx
	cmp	$NSPACE, %ecx
	jb	7b

	mov	$msg, %ebx
9:	mov	(%ebx), %al
	test	%al, %al
	jz	10f
	out	%al, $0xe9
	inc	%ebx
	jmp	9b
10:	mov	$8, %ecx
11:	rol	$4, %esi
	mov	%esi, %eax
	and	$0xf, %eax
	mov	hex(%eax), %al
	out	%al, $0xe9
	loop	11b
	mov	$'\n', %al
	out	%al, $0xe9
	hlt

	.data
	.p2align 3
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: code, base 0, 4 GiB, 32-bit */
	.quad	0x00cf92000000ffff		/* 0x10: data, base 0, 4 GiB, 32-bit */
gdtr:
	.word	gdtr - gdt - 1
	.long	gdt
msg:	.asciz	"aspace sum="
hex:	.ascii	"0123456789abcdef"

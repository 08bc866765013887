/*
 * bios-real: a 64 KiB firmware image (-bios / --bios), started the way a PC starts: from
 * the reset vector at 0xFFFFFFF0 with CS = F000 (base 0xFFFF0000), in real mode. It jumps
 * into the copy of itself below 1 MiB (F000:xxxx = 0xFxxxx), then exercises real mode: the
 * IVT with INT n and a divide error (the i386 saves the faulting IP), string instructions
 * between ROM and RAM, 32-bit operand and address sizes, far calls, segment arithmetic,
 * the A20 line, BCD adjusts; then it enters protected mode, checks that the image reads
 * the same through its 4 GiB and 1 MiB aliases, returns to real mode, and exits through
 * isa-debug-exit. Nothing is written below 1 MiB's ROM (QEMU maps it read-only).
 */
	.equ	CONSOLE, 0x4f0		/* console selection byte in RAM */
	.code16
	.text
	.globl	_start
_start:
	.ascii	"lkvm bios-real guest\0"

start:
	cli
	cld
	xor	%ax, %ax
	mov	%ax, %ss
	mov	$0x7c00, %sp
	mov	%ax, %es
	mov	%cs, %ax
	mov	%ax, %ds		/* DS = F000: strings live in the ROM */
	movb	$1, %es:CONSOLE
	call	serial_init
	mov	$s_hello, %si
	call	puts
	mov	%cs, %ax
	call	hex16
	mov	$s_ip, %si
	call	puts
	call	1f
1:	pop	%ax			/* IP of label 1 */
	call	hex16
	call	newline

	/* IVT: INT 60h, a handler in the ROM */
	movw	$int60, %es:0x60*4
	movw	%cs, %es:0x60*4+2
	mov	$5, %ax
	mov	$7, %bx
	int	$0x60
	push	%ax
	mov	$s_int60, %si
	call	puts
	pop	%ax
	call	hex16
	call	newline

	/* Divide error: vector 0, the saved IP is the DIV's own */
	movw	$de_handler, %es:0
	movw	%cs, %es:2
	movw	$0, %es:0x500		/* handler count */
	mov	$100, %ax
	xor	%bl, %bl
de_insn:
	div	%bl			/* 2 bytes: the handler skips it */
	mov	$s_de, %si
	call	puts
	mov	%es:0x502, %ax		/* IP the CPU saved */
	cmp	$de_insn, %ax
	mov	$s_at, %si
	je	2f
	mov	$s_after, %si
2:	call	puts

	/* Strings: ROM -> RAM with MOVSB, compare with CMPSB, length with SCASB */
	mov	$s_copy, %si
	mov	$0x600, %di
	mov	$s_copy_end - s_copy, %cx
	rep movsb			/* DS:SI (ROM) -> ES:DI (RAM at 0x600) */
	mov	$s_copy, %si
	mov	$0x600, %di
	mov	$s_copy_end - s_copy, %cx
	repe cmpsb
	mov	$s_cmp_ok, %si
	je	3f
	mov	$s_cmp_bad, %si
3:	call	puts
	mov	$0x600, %di
	xor	%al, %al
	mov	$0xffff, %cx
	repne scasb
	not	%cx
	dec	%cx
	mov	$s_len, %si
	call	puts
	mov	%cx, %ax
	call	hex16
	call	newline
	push	%ds			/* print the RAM copy: DS = 0 */
	push	%es
	pop	%ds
	mov	$0x600, %si
	call	puts
	pop	%ds

	/* 32-bit operands and addresses in real mode */
	mov	$0x12345678, %eax
	mov	$0x9abcdef0, %edx
	add	%edx, %eax		/* acb13568, CF=0 */
	rol	$8, %eax		/* b13568ac */
	bswap	%eax			/* ac6835b1 */
	mov	$0x700, %esi
	mov	%eax, %es:(%esi)	/* addr32 */
	movl	%es:0x700, %eax
	push	%eax
	mov	$s_op32, %si
	call	puts
	pop	%eax
	call	hex32
	call	newline

	/* Far call and return */
	lcall	$0xf000, $farfunc
	mov	$s_far, %si
	call	puts
	call	hex16
	call	newline

	/* Segment arithmetic: 1234:0010 and 1235:0000 are the same byte */
	mov	$0x1234, %ax
	mov	%ax, %fs
	mov	$0x1235, %ax
	mov	%ax, %gs
	movb	$0x5a, %fs:0x10
	mov	%gs:0, %al
	mov	$s_seg, %si
	call	puts
	call	hex8
	call	newline

	/* A20: FFFF:0010 is 0x100000, not 0 (QEMU and lkvm start with the gate open) */
	mov	$0xffff, %ax
	mov	%ax, %fs
	movb	$0x11, %es:0x0
	movb	$0x22, %fs:0x10
	mov	%es:0x0, %al
	mov	$s_a20, %si
	call	puts
	call	hex8
	call	newline

	/* BCD adjusts */
	mov	$s_bcd, %si
	call	puts
	mov	$0x0019, %ax
	add	$0x28, %al
	daa				/* 47 */
	call	hex16
	call	space
	mov	$0x0047, %ax
	sub	$0x19, %al
	das				/* 28 */
	call	hex16
	call	space
	mov	$0x0009, %ax
	add	$0x08, %al
	aaa				/* 0107 */
	call	hex16
	call	space
	mov	$0x004f, %ax
	aam				/* 0709 */
	call	hex16
	call	space
	mov	$0x0709, %ax
	aad				/* 004f */
	call	hex16
	call	space
	mov	$0x0035, %ax
	aam	$16			/* 0305 */
	call	hex16
	call	newline

	/* Protected mode and back */
	lgdtl	%cs:gdt_desc
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x08, $pm32
rm_back:
	xor	%ax, %ax
	mov	%ax, %ss
	mov	%ax, %es
	mov	%cs, %ax
	mov	%ax, %ds
	mov	$0x7c00, %sp
	mov	$s_back, %si
	call	puts
	mov	%cr0, %eax
	and	$1, %eax
	call	hex8
	call	newline
	mov	$s_sum_hi, %si
	call	puts
	mov	%es:0x800, %eax
	call	hex32
	mov	$s_sum_lo, %si
	call	puts
	mov	%es:0x804, %eax
	call	hex32
	call	newline
	mov	%es:0x800, %eax
	cmp	%es:0x804, %eax
	mov	$s_same, %si
	je	4f
	mov	$s_differ, %si
4:	call	puts
	movb	$2, %es:CONSOLE
	mov	$s_bye, %si
	call	puts
	mov	$5, %al
	out	%al, $0xf4		/* exit status (5 << 1) | 1 = 11 */
5:	hlt
	jmp	5b

	.code32
/* CS = 0x08: 32-bit code with base 0xF0000, so offsets are this image's. */
pm32:
	mov	$0x10, %ax		/* flat 4 GiB data */
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %esp
	mov	$0xffff0000, %esi	/* the 4 GiB alias */
	call	sum64k
	mov	%eax, 0x800
	mov	$0x000f0000, %esi	/* the 1 MiB alias */
	call	sum64k
	mov	%eax, 0x804
	ljmp	$0x18, $pm16
/* eax = rotate-and-add checksum of the 64 KiB at esi */
sum64k:
	xor	%eax, %eax
	mov	$0x4000, %ecx
6:	rol	$5, %eax
	add	(%esi), %eax
	add	$4, %esi
	loop	6b
	ret

	.code16
/* CS = 0x18: 16-bit code, base 0xF0000; load 16-bit data segments, then leave PE */
pm16:
	mov	$0x20, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%cr0, %eax
	and	$~1, %eax
	mov	%eax, %cr0
	ljmp	$0xf000, $rm_back

int60:	/* AX = AX * 3 + BX */
	push	%dx
	mov	$3, %dx
	mul	%dx
	add	%bx, %ax
	pop	%dx
	iret

de_handler:
	push	%bp
	mov	%sp, %bp
	incw	%es:0x500
	mov	2(%bp), %ax		/* saved IP */
	mov	%ax, %es:0x502
	addw	$2, 2(%bp)		/* skip the 2-byte DIV */
	pop	%bp
	iret

farfunc:
	mov	%cs, %ax
	lret

serial_init:
	mov	$0x3fb, %dx
	mov	$0x80, %al		/* DLAB */
	out	%al, %dx
	mov	$0x3f8, %dx
	mov	$1, %al			/* 115200 */
	out	%al, %dx
	inc	%dx
	xor	%al, %al
	out	%al, %dx
	mov	$0x3fb, %dx
	mov	$3, %al			/* 8N1 */
	out	%al, %dx
	ret

/* putc: AL to COM1 (polling for an empty transmitter) when bit 0 of the byte at
 * 0000:04F0 is set, to the 0xE9 debug console when bit 1 is */
putc:
	push	%dx
	push	%ax
	testb	$1, %es:CONSOLE
	jz	11f
	mov	$0x3fd, %dx
7:	in	%dx, %al
	test	$0x20, %al
	jz	7b
	pop	%ax
	push	%ax
	mov	$0x3f8, %dx
	out	%al, %dx
11:	testb	$2, %es:CONSOLE
	pop	%ax
	jz	12f
	out	%al, $0xe9
12:	pop	%dx
	ret

puts:	/* DS:SI, NUL-terminated */
	push	%ax
8:	lodsb
	test	%al, %al
	jz	9f
	call	putc
	jmp	8b
9:	pop	%ax
	ret

newline:
	push	%ax
	mov	$'\n', %al
	call	putc
	pop	%ax
	ret

space:
	push	%ax
	mov	$' ', %al
	call	putc
	pop	%ax
	ret

hexdigit:	/* low nibble of AL */
	push	%ax
	and	$0xf, %al
	cmp	$10, %al
	jb	10f
	add	$'a' - '0' - 10, %al
10:	add	$'0', %al
	call	putc
	pop	%ax
	ret

hex8:
	push	%ax
	push	%ax
	shr	$4, %al
	call	hexdigit
	pop	%ax
	call	hexdigit
	pop	%ax
	ret

hex16:
	push	%ax
	xchg	%al, %ah
	call	hex8
	xchg	%al, %ah
	call	hex8
	pop	%ax
	ret

hex32:
	push	%eax
	ror	$16, %eax
	call	hex16
	ror	$16, %eax
	call	hex16
	pop	%eax
	ret

/* The GDT lives in ROM, so its descriptors come with the accessed bit set: the CPU's
 * write of that bit on a segment load would go nowhere (SDM Vol. 3A 3.4.5.1). */
	.align	8
gdt:
	.quad	0
	.quad	0x00409b0f0000ffff	/* 0x08: 32-bit code, base 0xF0000, limit 0xFFFF */
	.quad	0x00cf93000000ffff	/* 0x10: 32-bit data, flat 4 GiB */
	.quad	0x00009b0f0000ffff	/* 0x18: 16-bit code, base 0xF0000, limit 0xFFFF */
	.quad	0x000093000000ffff	/* 0x20: 16-bit data, base 0, limit 0xFFFF */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	0xf0000 + gdt

s_hello:	.asciz	"bios-real: from the reset vector to cs="
s_ip:		.asciz	" ip="
s_int60:	.asciz	"int 60h: 5*3+7 = "
s_de:		.asciz	"divide error handled, saved IP "
s_at:		.asciz	"at the div\n"
s_after:	.asciz	"AFTER the div\n"
s_copy:		.asciz	"copied from ROM to RAM by rep movsb\n"
s_copy_end:
s_cmp_ok:	.asciz	"rep cmpsb: equal\n"
s_cmp_bad:	.asciz	"rep cmpsb: DIFFERENT\n"
s_len:		.asciz	"repne scasb length: "
s_op32:		.asciz	"32-bit operands in real mode: "
s_far:		.asciz	"far call: cs="
s_seg:		.asciz	"1235:0000 after a write to 1234:0010: "
s_a20:		.asciz	"0000:0000 after a write to ffff:0010: "
s_bcd:		.asciz	"daa das aaa aam aad aam16: "
s_back:		.asciz	"back in real mode, cr0.pe="
s_sum_hi:	.asciz	"checksum at 4 GiB - 64 KiB: "
s_sum_lo:	.asciz	", at 1 MiB - 64 KiB: "
s_same:		.asciz	"the two aliases agree\n"
s_differ:	.asciz	"the two aliases DIFFER\n"
s_bye:		.asciz	"bios-real: done (on the 0xe9 debug console)\n"

	/* The reset vector: the last 16 bytes of the image. */
	.org	0xfff0, 0xff
reset:
	ljmp	$0xf000, $start
	.org	0x10000, 0xff

/*
 * hello-real: the built-in guest of `lkvm run`. 16-bit real-mode code loaded and
 * entered at 0x1000 (cs = 0). It prints a greeting on COM1, polling the line status
 * register (0x3fd) for an empty transmitter before each byte as a driver for a real
 * 16550 must, sums the bytes it sent, prints the sum in hex, and halts with
 * interrupts off.
 */
	.code16
	.text
	.globl	_start
_start:
	xor	%ax, %ax
	mov	%ax, %ds
	mov	$msg, %si
	xor	%bx, %bx		/* running sum of the bytes sent */
next:
	mov	(%si), %al
	inc	%si
	test	%al, %al
	jz	sum
	add	%al, %bl
	adc	$0, %bh
	call	putc
	jmp	next

sum:	/* "sum=XXXX\n" */
	mov	$summsg, %si
1:	mov	(%si), %al
	inc	%si
	test	%al, %al
	jz	2f
	call	putc
	jmp	1b
2:	mov	$4, %cx
3:	add	%bx, %bx		/* rotate %bx left by 4: the carry out */
	adc	$0, %bx			/* of each doubling comes back in at bit 0 */
	add	%bx, %bx
	adc	$0, %bx
	add	%bx, %bx
	adc	$0, %bx
	add	%bx, %bx
	adc	$0, %bx
	mov	%bl, %al
	and	$0x0f, %al
	cmp	$10, %al
	jb	4f
	add	$('a' - '0' - 10), %al
4:	add	$'0', %al
	call	putc
	loop	3b
	mov	$'\n', %al
	call	putc
	cli
	hlt

/* putc: send %al on COM1 once the transmitter holding register is empty. */
putc:
	push	%dx
	mov	%al, %ah
	mov	$0x3fd, %dx
5:	in	%dx, %al
	test	$0x20, %al
	jz	5b
	mov	%ah, %al
	mov	$0x3f8, %dx
	out	%al, %dx
	pop	%dx
	ret

msg:	.asciz	"Hello from a real-mode guest, run by lkvm.\n"
summsg:	.asciz	"sum="

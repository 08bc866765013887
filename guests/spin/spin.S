/*
 * spin: the guest of docs/port/2007-snapshot.md. 16-bit real-mode code loaded and
 * entered at 0x1000. It counts ECX down from 3,000,000 without leaving the CPU (so the
 * vcpu runs whole time slices and ends them with external-interrupt exits, where the
 * host may preempt and migrate the vcpu thread), then prints "ok" on COM1 and halts.
 */
	.code16
	.text
	.globl	_start
_start:
	mov	$3000000, %ecx
1:	dec	%ecx
	jnz	1b
	mov	$0x3f8, %dx
	mov	$'o', %al
	out	%al, %dx
	mov	$'k', %al
	out	%al, %dx
	mov	$'\n', %al
	out	%al, %dx
	cli
	hlt

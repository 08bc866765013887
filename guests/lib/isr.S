/* Interrupt stubs: one per vector, each 16 bytes; see idt.h for the frame. The CPU pushes
 * an error code for #DF(8), #TS(10), #NP(11), #SS(12), #GP(13), #PF(14) and #AC(17). */
	.altmacro
	.macro	stub n
	.align	16
isr\n:
	.if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17)
	.else
	pushl	$0
	.endif
	pushl	$\n
	jmp	trap_common
	.endm

	.macro	entry n
	.long	isr\n
	.endm

	.text
	.set	i, 0
	.rept	256
	stub	%i
	.set	i, i + 1
	.endr

trap_common:
	pusha
	push	%ds
	push	%es
	push	%fs
	push	%gs
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	push	%esp
	call	trap_dispatch
	add	$4, %esp
	pop	%gs
	pop	%fs
	pop	%es
	pop	%ds
	popa
	add	$8, %esp
	iret

	.section .rodata
	.align	4
	.globl	isr_table
isr_table:
	.set	i, 0
	.rept	256
	entry	%i
	.set	i, i + 1
	.endr

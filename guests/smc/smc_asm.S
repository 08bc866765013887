/* Code that smc.c rewrites while it runs. .text is writable: the guests link one RWX
 * segment and run with paging off. */
	.text
	.globl	patch_imm, patch_imm_end, next_insn, stos_over, stos_target, loop_self, tmpl_add, tmpl_add_end, tmpl_mul, tmpl_mul_end

/* u32 patch_imm(void): returns the immediate that smc.c writes at patch_imm+1 */
patch_imm:
	mov	$0, %eax
	ret
patch_imm_end:

/* u32 next_insn(u8 opcode): stores `opcode` over the NOP right after the store, then
 * executes it: 0x40 is INC EAX, 0x48 DEC EAX, 0x90 NOP. */
next_insn:
	mov	4(%esp), %ecx
	mov	$100, %eax
	movb	%cl, 1f
1:	nop
	ret

/* u32 stos_over(void): REP STOSB overwrites its own following bytes (a UD2 and an INC)
 * with NOPs while it runs; execution continues into the NOPs and returns AL = 0x90. */
stos_over:
	push	%edi
	mov	$1, %eax
	lea	stos_target, %edi
	mov	$3, %ecx
	mov	$0x90, %al
	cld
	rep stosb
stos_target:
	ud2
	inc	%eax
	pop	%edi
	ret

/* u32 loop_self(u32 n): a loop whose ADD immediate the loop body increments:
 * returns sum of k for k = 1..n (mod 2^8 per step) */
loop_self:
	mov	4(%esp), %ecx
	xor	%eax, %eax
	movb	$1, 3f + 2
3:	add	$1, %eax		/* 83 c0 ib: the immediate is byte 2 */
	incb	3b + 2
	loop	3b
	ret

/* Templates copied into a buffer and called there. */
tmpl_add:
	mov	4(%esp), %eax
	add	$0x11111111, %eax
	ret
tmpl_add_end:
tmpl_mul:
	mov	4(%esp), %eax
	imul	$3, %eax, %eax
	ret
tmpl_mul_end:

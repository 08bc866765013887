/*
 * smc: self-modifying and generated code, which a decoded-instruction cache must notice:
 * an immediate patched before each call, a store over the very next instruction, REP
 * STOSB overwriting the instructions that follow it, a loop that rewrites its own
 * immediate, code copied into a buffer (REP MOVSB) and replaced in place, and a small
 * JIT that emits straight-line code for expressions and runs it.
 */
#include "../lib/rt.h"

extern char patch_imm[], next_insn[], stos_over[], stos_target[], loop_self[], tmpl_add[], tmpl_add_end[], tmpl_mul[], tmpl_mul_end[];
typedef u32 (*fn0)(void);
typedef u32 (*fn1)(u32);

static u8 buf[4096] __attribute__((aligned(16)));

static void copy_code(void *dst, const void *src, u32 n)
{
	__asm__ volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/* JIT: code for ((x op1 c1) op2 c2) ... as MOV EAX, [ESP+4]; then per step ADD/SUB/IMUL/XOR/SHL imm; RET */
static u32 emit(u8 *p, u32 seed, int steps)
{
	u8 *q = p;
	*q++ = 0x8b; *q++ = 0x44; *q++ = 0x24; *q++ = 0x04;	/* mov 4(%esp), %eax */
	for (int i = 0; i < steps; i++) {
		u32 c = rand32(&seed);
		switch (c % 5) {
		case 0: *q++ = 0x05; memcpy(q, &c, 4); q += 4; break;			/* add $c, %eax */
		case 1: *q++ = 0x2d; memcpy(q, &c, 4); q += 4; break;			/* sub $c, %eax */
		case 2: *q++ = 0x69; *q++ = 0xc0; memcpy(q, &c, 4); q += 4; break;	/* imul $c, %eax, %eax */
		case 3: *q++ = 0x35; memcpy(q, &c, 4); q += 4; break;			/* xor $c, %eax */
		default: *q++ = 0xc1; *q++ = 0xe0; *q++ = (u8)(c >> 8) & 7; break;	/* shl $n, %eax */
		}
	}
	*q++ = 0xc3;
	return (u32)(q - p);
}

static u32 interpret(u32 x, u32 seed, int steps)
{
	for (int i = 0; i < steps; i++) {
		u32 c = rand32(&seed);
		switch (c % 5) {
		case 0: x += c; break;
		case 1: x -= c; break;
		case 2: x *= c; break;
		case 3: x ^= c; break;
		default: x <<= (c >> 8) & 7; break;
		}
	}
	return x;
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	printf("smc\n");
	u32 sum = 0, bad = 0;
	for (u32 i = 0; i < 1000; i++) {
		u32 imm = i * 2654435761u;
		memcpy(patch_imm + 1, &imm, 4);
		u32 r = ((fn0)patch_imm)();
		bad += r != imm;
		sum += r;
	}
	printf("patched immediate: 1000 calls, sum %08x, %u wrong\n", sum, bad);
	printf("store over the next instruction: inc %u, dec %u, nop %u\n",
	       ((fn1)next_insn)(0x40), ((fn1)next_insn)(0x48), ((fn1)next_insn)(0x90));
	printf("rep stosb over the following code: %u\n", ((fn0)stos_over)());
	/* restore stos_over's UD2 and INC for a second run */
	stos_target[0] = 0x0f; stos_target[1] = 0x0b; stos_target[2] = 0x40;
	printf("  again: %u\n", ((fn0)stos_over)());
	printf("loop rewriting its immediate: %u, %u\n", ((fn1)loop_self)(10), ((fn1)loop_self)(300));

	u32 acc = 0;
	for (u32 i = 0; i < 200; i++) {
		if (i % 2 == 0)
			copy_code(buf, tmpl_add, (u32)(tmpl_add_end - tmpl_add));
		else
			copy_code(buf, tmpl_mul, (u32)(tmpl_mul_end - tmpl_mul));
		acc = ((fn1)buf)(acc + i);
	}
	printf("templates swapped 200 times in one buffer: %08x\n", acc);

	u32 h = 0, mismatches = 0, bytes = 0;
	for (u32 g = 0; g < 300; g++) {
		u32 seed = 0x9e3779b9u ^ (g * 0x85ebca6bu);
		int steps = 1 + (int)(g % 40);
		bytes += emit(buf + (g % 3) * 8, seed, steps);
		for (u32 x = 0; x < 5; x++) {
			u32 r = ((fn1)(buf + (g % 3) * 8))(x * 12345 + g);
			mismatches += r != interpret(x * 12345 + g, seed, steps);
			h = h * 31 + r;
		}
	}
	printf("jit: 300 functions, %u bytes emitted, results hash %08x, %u mismatches\n", bytes, h, mismatches);
	return bad == 0 && mismatches == 0 ? 0 : 1;
}

/*
 * divmul: signed and unsigned division and remainder in every operand size (C / and %
 * on edge values, and DIV/IDIV/MUL/IMUL by inline assembly in 8, 16 and 32 bits, with the
 * CF/OF that MUL and IMUL define), 64-bit multiply (the compiler's MUL/IMUL sequences and
 * a 32x32->64 MUL), 64-bit division through __udivdi3/__divdi3, 64-bit shifts (SHLD/SHRD),
 * factorials, modular exponentiation with 64-bit products, and gcd.
 */
#include "../lib/rt.h"

static volatile s32 vs[] = { 0x7fffffff, -0x7fffffff - 1, 1, -1, 7, -7, 3, -3, 1000000007, -12345, 2, 65536 };
#define NV ((int)(sizeof(vs) / sizeof(vs[0])))

static u32 flags_cf_of(u32 f) { return f & (EFLAGS_CF | EFLAGS_OF); }

static void sized_ops(void)
{
	u32 ax, dx, f;
	/* 8-bit: AX / r8 -> AL quotient, AH remainder */
	__asm__("divb %b3; pushf; pop %1" : "=a"(ax), "=r"(f) : "a"(1000), "q"(7));
	printf("divb 1000/7: al=%u ah=%u\n", ax & 0xff, (ax >> 8) & 0xff);
	__asm__("idivb %b3; pushf; pop %1" : "=a"(ax), "=r"(f) : "a"((u32)(u16)-500), "q"(7));
	printf("idivb -500/7: al=%d ah=%d\n", (s8)ax, (s8)(ax >> 8));
	__asm__("mulb %b3; pushf; pop %1" : "=a"(ax), "=r"(f) : "a"(200), "q"(200));
	printf("mulb 200*200: ax=%u cf/of=%x\n", ax & 0xffff, flags_cf_of(f));
	__asm__("imulb %b3; pushf; pop %1" : "=a"(ax), "=r"(f) : "a"(0x80), "q"(0xff));
	printf("imulb -128*-1: ax=%04x cf/of=%x\n", ax & 0xffff, flags_cf_of(f));
	__asm__("imulb %b3; pushf; pop %1" : "=a"(ax), "=r"(f) : "a"(0xf6), "q"(0x0c));
	printf("imulb -10*12: ax=%04x cf/of=%x\n", ax & 0xffff, flags_cf_of(f));
	/* 16-bit: DX:AX / r16 */
	__asm__("divw %w4; pushf; pop %2" : "=a"(ax), "=d"(dx), "=r"(f) : "a"(0x5678), "r"(0x1234), "d"(0x0012));
	printf("divw 0x125678/0x1234: ax=%04x dx=%04x\n", ax & 0xffff, dx & 0xffff);
	__asm__("idivw %w4; pushf; pop %2" : "=a"(ax), "=d"(dx), "=r"(f) : "a"(0x0000), "r"(0xfff9), "d"(0xffff));
	printf("idivw 0xffff0000/-7: ax=%d dx=%d\n", (s16)ax, (s16)dx);
	__asm__("mulw %w4; pushf; pop %2" : "=a"(ax), "=d"(dx), "=r"(f) : "a"(0xffff), "r"(0xffff), "d"(0));
	printf("mulw 0xffff^2: dx:ax=%04x%04x cf/of=%x\n", dx & 0xffff, ax & 0xffff, flags_cf_of(f));
	__asm__("imulw %w4; pushf; pop %2" : "=a"(ax), "=d"(dx), "=r"(f) : "a"(0x0100), "r"(0x007f), "d"(0));
	printf("imulw 256*127: dx:ax=%04x%04x cf/of=%x\n", dx & 0xffff, ax & 0xffff, flags_cf_of(f));
	/* 32-bit and the two- and three-operand IMUL forms */
	__asm__("mull %4; pushf; pop %2" : "=a"(ax), "=d"(dx), "=r"(f) : "a"(0xfffffffbu), "r"(0x10000001u));
	printf("mull: edx:eax=%08x%08x cf/of=%x\n", dx, ax, flags_cf_of(f));
	__asm__("imull %4; pushf; pop %2" : "=a"(ax), "=d"(dx), "=r"(f) : "a"(-123456789), "r"(987654));
	printf("imull: edx:eax=%08x%08x cf/of=%x\n", dx, ax, flags_cf_of(f));
	__asm__("imull $-1000, %3, %0; pushf; pop %1" : "=r"(ax), "=r"(f) : "0"(0), "r"(0x7fffffff));
	printf("imul r,r,imm32: %08x cf/of=%x\n", ax, flags_cf_of(f));
	__asm__("imull $12, %3, %0; pushf; pop %1" : "=r"(ax), "=r"(f) : "0"(0), "r"(-5));
	printf("imul r,r,imm8: %d cf/of=%x\n", (s32)ax, flags_cf_of(f));
	ax = 100000;
	__asm__("imull %2, %0; pushf; pop %1" : "+r"(ax), "=r"(f) : "r"(100000));
	printf("imul r,r: %08x cf/of=%x\n", ax, flags_cf_of(f));
	__asm__("idivl %4" : "=a"(ax), "=d"(dx) : "a"(0), "d"(-1), "r"(-3));
	printf("idivl 0xffffffff00000000/-3: eax=%d edx=%d\n", (s32)ax, (s32)dx);
	__asm__("divl %4" : "=a"(ax), "=d"(dx) : "a"(0xdeadbeef), "d"(0x12345), "r"(0x87654321));
	printf("divl: eax=%08x edx=%08x\n", ax, dx);
}

static u64 factorial(u32 n) { return n <= 1 ? 1 : n * factorial(n - 1); }

static u64 mulmod(u64 a, u64 b, u64 m)
{
	u64 r = 0;
	a %= m;
	while (b) {
		if (b & 1)
			r = (r + a) % m;
		a = (a << 1) % m;
		b >>= 1;
	}
	return r;
}

static u64 powmod(u64 b, u64 e, u64 m)
{
	u64 r = 1 % m;
	b %= m;
	while (e) {
		if (e & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

static u64 gcd(u64 a, u64 b)
{
	while (b) {
		u64 t = a % b;
		a = b;
		b = t;
	}
	return a;
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	printf("divmul\n");
	/* C division truncates toward zero; INT_MIN / -1 (a #DE) is left to guests/idt. */
	u32 h = 0;
	for (int i = 0; i < NV; i++)
		for (int j = 0; j < NV; j++) {
			s32 x = vs[i], y = vs[j];
			if (x == -0x7fffffff - 1 && y == -1)
				continue;
			s32 q = x / y, r = x % y;
			u32 uq = (u32)x / (u32)y, ur = (u32)x % (u32)y;
			h = h * 31 + (u32)q; h = h * 31 + (u32)r; h = h * 31 + uq; h = h * 31 + ur;
			if (i == j + 1 || (i == 5 && j == 6) || (i == 8 && j == 9))
				printf("%d / %d = %d rem %d; unsigned %u rem %u\n", x, y, q, r, uq, ur);
		}
	printf("division table hash %08x\n", h);
	sized_ops();
	for (u32 n = 15; n <= 21; n += 2)
		printf("%u! = %llu\n", n, factorial(n));
	volatile s64 a = -0x123456789abcdefLL, b = 0x7edcba987LL;
	printf("s64 mul: %lld\n", a * 1000);
	printf("s64 div: %lld rem %lld\n", a / b, a % b);
	printf("u64 div: %llu rem %llu\n", (u64)a / (u64)b, (u64)a % (u64)b);
	printf("u64 div by small: %llu rem %llu\n", 0xfedcba9876543210ULL / 1000000007u, 0xfedcba9876543210ULL % 1000000007u);
	volatile u32 x32 = 0xfffffff1, y32 = 0xfffffff3;
	printf("u32*u32->u64: %llx\n", (u64)x32 * y32);
	printf("s32*s32->s64: %lld\n", (s64)(s32)x32 * (s32)0x7ffffff3);
	volatile u64 v = 0x0123456789abcdefULL;
	for (int s = 0; s < 64; s += 13)
		printf("shl %d: %016llx shr %d: %016llx sar %d: %016llx\n", s, v << s, s, v >> s, s, (u64)((s64)~v >> s));
	printf("2^(10^9+6) mod (10^9+7) = %llu\n", powmod(2, 1000000006, 1000000007));
	printf("3^(2^40) mod 998244353 = %llu\n", powmod(3, 1ULL << 40, 998244353));
	printf("powmod 64-bit: %llu\n", powmod(0x1234567890ULL, 0x5555, 0xffffffffffc5ULL));
	printf("gcd(%llu, %llu) = %llu\n", factorial(20), 0xde0b6b3a7640000ULL, gcd(factorial(20), 0xde0b6b3a7640000ULL));
	return 0;
}

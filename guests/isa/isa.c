/*
 * isa: the i386 integer instructions compilers rarely emit, each on a table of operands,
 * printing results and only the flags the SDM defines for that instruction (undefined
 * flags differ between CPU generations and emulators): ADD/ADC/SUB/SBB/NEG/INC/DEC,
 * logic, shifts and rotates by 1 and by CL (OF only for a count of 1), RCL/RCR,
 * SHLD/SHRD, BT/BTS/BTR/BTC on registers and memory (bit offsets beyond the operand),
 * BSF/BSR, CMPXCHG, XADD, BSWAP, XCHG, SETcc and CMOVcc over every condition,
 * MOVSX/MOVZX, CBW/CWDE/CWD/CDQ, LAHF/SAHF, XLAT, ENTER/LEAVE, PUSHA/POPA, string
 * instructions forwards and backwards (DF=1) in byte/word/dword, REPE/REPNE CMPS/SCAS, and
 * the BCD adjusts.
 */
#include "../lib/idt.h"

#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800
#define ARITH (CF | PF | AF | ZF | SF | OF)

static u32 h;	/* running hash of everything printed in the big tables */
static void mix(u32 v) { h = (h ^ v) * 16777619u; }

static const u32 vals[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x12345678, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x9abcdef0, 31, 32, 33 };
#define NVALS (sizeof(vals) / sizeof(vals[0]))

#define BINOP(name, insn, mask)								\
static void name(void)									\
{											\
	for (unsigned i = 0; i < NVALS; i++)						\
		for (unsigned j = 0; j < NVALS; j++) {					\
			for (u32 cin = 0; cin < 2; cin++) {				\
				u32 r = vals[i], f = cin;				\
				__asm__("push %1; popf; " insn " %2, %0; pushf; pop %1"	\
					: "+r"(r), "+r"(f) : "r"(vals[j]) : "cc");	\
				mix(r); mix(f & (mask));				\
			}							\
		}								\
	printf("%-6s %08x\n", #name, h);						\
}
BINOP(add32, "addl", ARITH)
BINOP(adc32, "adcl", ARITH)
BINOP(sub32, "subl", ARITH)
BINOP(sbb32, "sbbl", ARITH)
BINOP(and32, "andl", CF | PF | ZF | SF | OF)
BINOP(or32, "orl", CF | PF | ZF | SF | OF)
BINOP(xor32, "xorl", CF | PF | ZF | SF | OF)

#define BINOP8(name, insn, mask)							\
static void name(void)									\
{											\
	for (unsigned i = 0; i < NVALS; i++)						\
		for (unsigned j = 0; j < NVALS; j++)					\
			for (u32 cin = 0; cin < 2; cin++) {				\
				u32 r = vals[i], f = cin;				\
				__asm__("push %1; popf; " insn " %b2, %b0; pushf; pop %1"	\
					: "+q"(r), "+r"(f) : "q"(vals[j]) : "cc");	\
				mix(r); mix(f & (mask));				\
			}							\
	printf("%-6s %08x\n", #name, h);						\
}
BINOP8(add8, "addb", ARITH)
BINOP8(adc8, "adcb", ARITH)
BINOP8(sbb8, "sbbb", ARITH)
#define BINOP16(name, insn, mask)							\
static void name(void)									\
{											\
	for (unsigned i = 0; i < NVALS; i++)						\
		for (unsigned j = 0; j < NVALS; j++)					\
			for (u32 cin = 0; cin < 2; cin++) {				\
				u32 r = vals[i], f = cin;				\
				__asm__("push %1; popf; " insn " %w2, %w0; pushf; pop %1"	\
					: "+r"(r), "+r"(f) : "r"(vals[j]) : "cc");	\
				mix(r); mix(f & (mask));				\
			}							\
	printf("%-6s %08x\n", #name, h);						\
}
BINOP16(sub16, "subw", ARITH)
BINOP16(adc16, "adcw", ARITH)

#define UNOP(name, insn, mask)								\
static void name(void)									\
{											\
	for (unsigned i = 0; i < NVALS; i++)						\
		for (u32 cin = 0; cin < 2; cin++) {					\
			u32 r = vals[i], f = cin;					\
			__asm__("push %1; popf; " insn " %0; pushf; pop %1" : "+r"(r), "+r"(f) : : "cc");	\
			mix(r); mix(f & (mask));					\
		}									\
	printf("%-6s %08x\n", #name, h);						\
}
UNOP(neg32, "negl", ARITH)
UNOP(inc32, "incl", ARITH)
UNOP(dec32, "decl", ARITH)
UNOP(not32, "notl", ARITH)

/* Shifts and rotates by CL. Flags: CF/SF/ZF/PF for shifts with count != 0, CF for
 * rotates; OF only when the (masked) count is 1; nothing changes for a count of 0. */
#define SHIFT(name, insn, mask)								\
static void name(void)									\
{											\
	static const u8 counts[] = { 0, 1, 2, 7, 8, 15, 16, 31, 32, 33 };		\
	for (unsigned i = 0; i < NVALS; i++)						\
		for (unsigned c = 0; c < sizeof(counts); c++)				\
			for (u32 cin = 0; cin < 2; cin++) {				\
				u32 r = vals[i], f = cin | (cin ? OF : 0);		\
				u32 n = counts[c] & 31;					\
				__asm__("push %1; popf; " insn " %%cl, %0; pushf; pop %1"	\
					: "+r"(r), "+r"(f) : "c"(counts[c]) : "cc");	\
				mix(r); mix(f & (n == 1 ? (mask) | OF : (mask)));	\
			}							\
	printf("%-6s %08x\n", #name, h);						\
}
SHIFT(shl32, "shll", CF | PF | ZF | SF)
SHIFT(shr32, "shrl", CF | PF | ZF | SF)
SHIFT(sar32, "sarl", CF | PF | ZF | SF)
SHIFT(rol32, "roll", CF)
SHIFT(ror32, "rorl", CF)
SHIFT(rcl32, "rcll", CF)
SHIFT(rcr32, "rcrl", CF)

#define SHIFT8(name, insn, mask)							\
static void name(void)									\
{											\
	static const u8 counts[] = { 0, 1, 2, 7, 8, 9, 17, 31 };			\
	for (unsigned i = 0; i < NVALS; i++)						\
		for (unsigned c = 0; c < sizeof(counts); c++)				\
			for (u32 cin = 0; cin < 2; cin++) {				\
				u32 r = vals[i], f = cin;				\
				__asm__("push %1; popf; " insn " %%cl, %b0; pushf; pop %1"	\
					: "+q"(r), "+r"(f) : "c"(counts[c]) : "cc");	\
				mix(r); mix(f & (counts[c] == 1 ? (mask) | OF : (mask)));	\
			}							\
	printf("%-6s %08x\n", #name, h);						\
}
SHIFT8(rcl8, "rclb", CF)
SHIFT8(rcr8, "rcrb", CF)
SHIFT8(rol8, "rolb", CF)
SHIFT8(shr8, "shrb", CF | PF | ZF | SF)

static void double_shifts(void)
{
	static const u8 counts[] = { 1, 4, 16, 31 };
	for (unsigned i = 0; i < NVALS; i++)
		for (unsigned j = 0; j < NVALS; j += 3)
			for (unsigned c = 0; c < sizeof(counts); c++) {
				u32 r = vals[i], f = 0, m = (counts[c] == 1 ? OF : 0) | CF | PF | ZF | SF;
				__asm__("push %1; popf; shldl %%cl, %3, %0; pushf; pop %1" : "+r"(r), "+r"(f) : "c"(counts[c]), "r"(vals[j]) : "cc");
				mix(r); mix(f & m);
				r = vals[i]; f = 0;
				__asm__("push %1; popf; shrdl %%cl, %3, %0; pushf; pop %1" : "+r"(r), "+r"(f) : "c"(counts[c]), "r"(vals[j]) : "cc");
				mix(r); mix(f & m);
			}
	printf("%-6s %08x\n", "shld/shrd", h);
	u32 r = 0x12345678;
	__asm__("shldw $4, %w1, %w0" : "+r"(r) : "r"(0xabcd));
	printf("shldw $4: %08x\n", r);
	r = 0x12345678;
	__asm__("shrdl $8, %1, %0" : "+r"(r) : "r"(0xabcdef01));
	printf("shrdl $8: %08x\n", r);
}

static void bits(void)
{
	/* a register bit offset addresses memory beyond the operand: -40..134 reach base[-2..4] */
	static u32 area[12] = { 0, 0, 0x80000001, 0x00010000, 0, 0xffffffff, 0x5555aaaa, 0, 0, 0, 0, 0 };
	u32 *base = &area[4];
	u32 f, r;
	for (int bit = -40; bit < 130; bit += 7) {
		__asm__ volatile("btl %1, %2; pushf; pop %0" : "=r"(f) : "r"(bit), "m"(*base) : "cc", "memory");
		mix(f & CF);
		__asm__ volatile("btsl %1, %2; pushf; pop %0" : "=r"(f) : "r"(bit), "m"(*base) : "cc", "memory");
		mix(f & CF);
		__asm__ volatile("btcl %1, %2; pushf; pop %0" : "=r"(f) : "r"(bit + 3), "m"(*base) : "cc", "memory");
		mix(f & CF);
		__asm__ volatile("btrl %1, %2; pushf; pop %0" : "=r"(f) : "r"(bit + 5), "m"(*base) : "cc", "memory");
		mix(f & CF);
	}
	for (int i = 0; i < 12; i++)
		mix(area[i]);
	printf("bt/bts/btc/btr memory, offsets -40..134: %08x %08x %08x, hash %08x\n", area[2], area[4], area[8], h);
	r = 0x0f0f0f0f;
	__asm__("btsl $4, %0; btrl $0, %0; btcl $31, %0; btw $9, %w0; pushf; pop %1" : "+r"(r), "=r"(f) : : "cc");
	printf("bt* on a register: %08x cf=%u\n", r, f & CF);
	for (unsigned i = 0; i < NVALS; i++) {
		u32 fwd = 0xdead, rev = 0xdead, zf;
		__asm__("bsfl %3, %0; bsrl %3, %1; pushf; pop %2" : "+r"(fwd), "+r"(rev), "=r"(zf) : "r"(vals[i]) : "cc");
		if (vals[i] != 0)
			mix(fwd), mix(rev);
		mix(zf & ZF);
	}
	printf("%-6s %08x\n", "bsf/bsr", h);
	u32 x = 0x11223344;
	__asm__("bswap %0" : "+r"(x));
	printf("bswap: %08x\n", x);
}

static void atomics(void)
{
	static u32 m = 5;
	u32 a = 5, f, n = 9;
	__asm__("lock cmpxchgl %3, %1; pushf; pop %2" : "+a"(a), "+m"(m), "=r"(f) : "r"(n) : "cc");
	printf("cmpxchg equal: m=%u eax=%u zf=%u\n", m, a, !!(f & ZF));
	a = 5;
	__asm__("lock cmpxchgl %3, %1; pushf; pop %2" : "+a"(a), "+m"(m), "=r"(f) : "r"(n) : "cc");
	printf("cmpxchg unequal: m=%u eax=%u flags=%x\n", m, a, f & ARITH);
	u32 b = 0xfffffff0;
	__asm__("lock xaddl %0, %1; pushf; pop %2" : "+r"(b), "+m"(m), "=r"(f) : : "cc");
	printf("xadd: m=%08x old=%u flags=%x\n", m, b, f & ARITH);
	u8 c8 = 0x7f;
	u32 r = 1;
	__asm__("xaddb %b0, %1; pushf; pop %2" : "+q"(r), "+m"(c8), "=r"(f) : : "cc");
	printf("xaddb: %02x old=%u flags=%x\n", c8, r & 0xff, f & ARITH);
	u32 p = 1, q = 2;
	__asm__("xchgl %0, %1" : "+r"(p), "+m"(q));
	printf("xchg: %u %u\n", p, q);
}

static void conditions(void)
{
	/* SETcc and CMOVcc for all 16 conditions, over flag patterns from CMP */
	static const u32 pairs[][2] = { { 1, 1 }, { 1, 2 }, { 2, 1 }, { 0x80000000, 1 }, { 1, 0x80000000 }, { 0x7fffffff, 0xffffffff }, { 0, 0xffffffff } };
	for (unsigned p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		u32 s = 0, cm = 0;
#define CC(cc, bit) { u8 v; u32 c = 0; __asm__("cmpl %3, %2; set" cc " %0; cmov" cc "l %4, %1" : "=q"(v), "+r"(c) : "r"(pairs[p][0]), "r"(pairs[p][1]), "r"(1u << bit) : "cc"); s |= (u32)v << bit; cm |= c; }
		CC("o", 0) CC("no", 1) CC("b", 2) CC("ae", 3) CC("e", 4) CC("ne", 5) CC("be", 6) CC("a", 7)
		CC("s", 8) CC("ns", 9) CC("p", 10) CC("np", 11) CC("l", 12) CC("ge", 13) CC("le", 14) CC("g", 15)
		printf("cmp %08x,%08x: setcc %04x cmovcc %04x\n", pairs[p][0], pairs[p][1], s, cm);
	}
}

static void conversions(void)
{
	u32 a, d;
	__asm__("movl $0x1234ff80, %%eax; cbw" : "=a"(a));
	printf("cbw: %08x\n", a);
	__asm__("movl $0x12348000, %%eax; cwde" : "=a"(a));
	printf("cwde: %08x\n", a);
	__asm__("movl $0x00008001, %%eax; movl $0x11111111, %%edx; cwd" : "=a"(a), "=d"(d));
	printf("cwd: dx:ax %04x:%04x edx %08x\n", d & 0xffff, a & 0xffff, d);
	__asm__("movl $0x80000000, %%eax; cdq" : "=a"(a), "=d"(d));
	printf("cdq: %08x:%08x\n", d, a);
	s32 sx; u32 zx;
	__asm__("movsbl %2, %0; movzwl %3, %1" : "=r"(sx), "=r"(zx) : "m"(*(const u8 *)"\x9c"), "m"(*(const u16 *)"\xfe\xff"));
	printf("movsx byte 0x9c: %d, movzx word 0xfffe: %u\n", sx, zx);
	u32 ah;
	__asm__("xor %%eax, %%eax; stc; lahf; mov %%eax, %0" : "=r"(ah) : : "eax", "cc");
	printf("lahf after xor+stc: ah=%02x\n", (ah >> 8) & 0xd5);
	u32 f;
	__asm__("mov $0xd5, %%ah; sahf; pushf; pop %0" : "=r"(f) : : "eax", "cc");
	printf("sahf 0xd5: flags %x\n", f & (CF | PF | AF | ZF | SF));
	static const u8 table[] = "0123456789abcdef";
	u32 x;
	__asm__("xlat" : "=a"(x) : "a"(0x0c), "b"(table));
	printf("xlat 12: %c\n", x & 0xff);
}

static u32 __attribute__((noinline)) frames(void)
{
	u32 outer, inner, disp, self;
	__asm__ volatile(
		"push %%ebp\n\t"
		"mov %%esp, %0\n\t"
		"enter $16, $0\n\t"
		"movl $7, -4(%%ebp)\n\t"
		"enter $8, $2\n\t"	/* level 2: copies [old ebp - 4], then pushes the new frame pointer */
		"mov %%esp, %1\n\t"
		"mov -4(%%ebp), %2\n\t"
		"mov -8(%%ebp), %3\n\t"
		"sub %%ebp, %3\n\t"
		"leave\n\t"
		"leave\n\t"
		"pop %%ebp\n\t"
		: "=&a"(outer), "=&c"(inner), "=&d"(disp), "=&b"(self) : : "memory");
	printf("enter 16,0 then enter 8,2: %u bytes of stack, copied entry %u, last entry - ebp = %d\n", outer - inner, disp, (s32)self);
	u32 regs[8];
	__asm__ volatile(
		"mov $1, %%eax; mov $2, %%ecx; mov $3, %%edx; mov $4, %%ebx; mov $6, %%esi; mov $7, %%edi\n\t"
		"pusha\n\t"
		"mov $0, %%eax; mov $0, %%ecx; mov $0, %%edx; mov $0, %%ebx; mov $0, %%esi; mov $0, %%edi\n\t"
		"mov (%%esp), %%eax; mov %%eax, 0(%0)\n\t"		/* EDI */
		"mov 4(%%esp), %%eax; mov %%eax, 4(%0)\n\t"		/* ESI */
		"mov 16(%%esp), %%eax; mov %%eax, 16(%0)\n\t"		/* EBX */
		"mov 28(%%esp), %%eax; mov %%eax, 28(%0)\n\t"		/* EAX */
		"lea 32(%%esp), %%eax; sub 12(%%esp), %%eax; mov %%eax, 12(%0)\n\t"	/* ESP pushed = ESP before PUSHA */
		"popa\n\t"
		"mov %%eax, 8(%0); mov %%edi, 20(%0)\n\t"
		: : "r"(regs) : "eax", "ecx", "edx", "ebx", "esi", "edi", "memory");
	printf("pusha: edi %u esi %u ebx %u eax %u, pushed esp off by %u; popa: eax %u edi %u\n", regs[0], regs[1], regs[4], regs[7], regs[3], regs[2], regs[5]);
	return 0;
}

static void strings(void)
{
	static char src[64] = "the quick brown fox jumps over the lazy dog";
	static char dst[64];
	u32 n = (u32)strlen(src) + 1;
	void *d = dst, *s = src;
	u32 c = n;
	__asm__ volatile("cld; rep movsb" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
	printf("rep movsb: %s, esi-src %u edi-dst %u\n", dst, (u32)((char *)s - src), (u32)((char *)d - dst));
	/* backwards, overlapping: shift the string right by 4, as memmove does */
	d = src + n + 3; s = src + n - 1; c = n;
	__asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
	memcpy(src, "....", 4);
	printf("std rep movsb (overlap): %s\n", src);
	static u16 w[8];
	d = w; c = 8;
	__asm__ volatile("cld; rep stosw" : "+D"(d), "+c"(c) : "a"(0xbeef) : "memory");
	static u32 dw[4] = { 1, 2, 3, 4 };
	u32 sum = 0;
	s = dw + 3; c = 4;
	__asm__ volatile("std\n1: lodsl; add %%eax, %2; loop 1b\n cld" : "+S"(s), "+c"(c), "+r"(sum) : : "eax", "memory");
	printf("rep stosw: %04x..%04x, std lodsl sum %u, esi moved %d\n", w[0], w[7], sum, (int)((u32 *)s - (dw + 3)));
	const char *a = "abcdefgh", *b = "abcdefxh";
	s = (void *)a; d = (void *)b; c = 8;
	u32 f;
	__asm__ volatile("cld; repe cmpsb; pushf; pop %3" : "+S"(s), "+D"(d), "+c"(c), "=r"(f) : : "memory", "cc");
	printf("repe cmpsb: stopped after %u, ecx %u, flags %x\n", (u32)((const char *)s - a), c, f & ARITH);
	d = (void *)a; c = 100;
	__asm__ volatile("cld; repne scasb; pushf; pop %2" : "+D"(d), "+c"(c), "=r"(f) : "a"('e') : "memory", "cc");
	printf("repne scasb 'e': found at %u, ecx %u, zf %u\n", (u32)((const char *)d - a) - 1, c, !!(f & ZF));
	c = 0;
	d = (void *)a;
	__asm__ volatile("cld; repne scasb; pushf; pop %2" : "+D"(d), "+c"(c), "=r"(f) : "a"('a') : "memory", "cc");
	printf("repne scasb with ecx=0: edi moved %u\n", (u32)((const char *)d - a));
}

static void bcd(void)
{
	for (u32 a = 0; a < 0x100; a += 0x0b)
		for (u32 b = 0; b < 0x100; b += 0x17) {
			u32 r = a, f;
			__asm__("addb %b2, %b0; daa; pushf; pop %1" : "+a"(r), "=r"(f) : "q"(b) : "cc");
			mix(r & 0xff); mix(f & (CF | AF | SF | ZF | PF));
			r = a;
			__asm__("subb %b2, %b0; das; pushf; pop %1" : "+a"(r), "=r"(f) : "q"(b) : "cc");
			mix(r & 0xff); mix(f & (CF | AF | SF | ZF | PF));
			r = a | (b << 8);
			__asm__("aaa; pushf; pop %1" : "+a"(r), "=r"(f) : : "cc");
			mix(r & 0xffff); mix(f & (CF | AF));
			r = a | (b << 8);
			__asm__("aas; pushf; pop %1" : "+a"(r), "=r"(f) : : "cc");
			mix(r & 0xffff); mix(f & (CF | AF));
		}
	printf("%-6s %08x\n", "daa/das/aaa/aas", h);
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	idt_install();
	printf("isa (cumulative hashes)\n");
	add32(); adc32(); sub32(); sbb32(); and32(); or32(); xor32();
	add8(); adc8(); sbb8(); sub16(); adc16();
	neg32(); inc32(); dec32(); not32();
	shl32(); shr32(); sar32(); rol32(); ror32(); rcl32(); rcr32();
	rcl8(); rcr8(); rol8(); shr8();
	double_shifts();
	bits();
	atomics();
	conditions();
	conversions();
	frames();
	strings();
	bcd();
	return 0;
}

/*
 * 64-bit division for i386, the libgcc entry points GCC calls for u64/s64 `/` and `%`
 * (__udivdi3, __umoddi3, __divdi3, __moddi3). Written here rather than linked from the
 * system libgcc.a because Debian's i386 libgcc is built with -fcf-protection and starts
 * every function with ENDBR32 (F3 0F 1E FB), a hint NOP that the CPU model does not
 * decode yet (guests/endbr covers it on its own).
 *
 * Algorithm: when the divisor fits in 32 bits, two DIVL steps (high word, then the
 * remainder:low word); otherwise normalise the divisor so its top bit is set, estimate
 * the quotient from the top 32 bits with one DIVL, and correct it by at most one.
 */
#include "rt.h"

u64 __udivmoddi4(u64 n, u64 d, u64 *rem);
u64 __udivdi3(u64 n, u64 d);
u64 __umoddi3(u64 n, u64 d);
s64 __divdi3(s64 n, s64 d);
s64 __moddi3(s64 n, s64 d);

static inline u32 divl(u32 hi, u32 lo, u32 d, u32 *r)
{
	u32 q;
	__asm__("divl %4" : "=a"(q), "=d"(*r) : "a"(lo), "d"(hi), "rm"(d));
	return q;
}

u64 __udivmoddi4(u64 n, u64 d, u64 *rem)
{
	u32 nh = (u32)(n >> 32), nl = (u32)n;
	u32 dh = (u32)(d >> 32), dl = (u32)d;
	if (dh == 0) {
		u32 r, qh = 0;
		if (nh >= dl) {
			qh = divl(0, nh, dl, &r);
			nh = r;
		}
		u32 ql = divl(nh, nl, dl, &r);
		if (rem)
			*rem = r;
		return ((u64)qh << 32) | ql;
	}
	if (dh > nh) {
		if (rem)
			*rem = n;
		return 0;
	}
	int s = __builtin_clz(dh);
	u64 q;
	if (s == 0) {
		/* d >= 2^63 and n >= d's high word: the quotient is 0 or 1. */
		q = n >= d;
	} else {
		u64 dn = d << s;
		u32 n1 = (u32)(n >> 33), n0 = (u32)(n >> 1);	/* n / 2: its high word < dn's */
		u32 r;
		q = divl(n1, n0, (u32)(dn >> 32), &r);
		q >>= (31 - s);
		if (q != 0)
			q--;
		if (n - q * d >= d)
			q++;
	}
	if (rem)
		*rem = n - q * d;
	return q;
}

u64 __udivdi3(u64 n, u64 d)
{
	return __udivmoddi4(n, d, NULL);
}

u64 __umoddi3(u64 n, u64 d)
{
	u64 r;
	__udivmoddi4(n, d, &r);
	return r;
}

s64 __divdi3(s64 n, s64 d)
{
	int neg = (n < 0) != (d < 0);
	u64 q = __udivmoddi4(n < 0 ? -(u64)n : (u64)n, d < 0 ? -(u64)d : (u64)d, NULL);
	return neg ? -(s64)q : (s64)q;
}

s64 __moddi3(s64 n, s64 d)
{
	u64 r;
	__udivmoddi4(n < 0 ? -(u64)n : (u64)n, d < 0 ? -(u64)d : (u64)d, &r);
	return n < 0 ? -(s64)r : (s64)r;
}

/*
 * recursion: deep and branchy call trees as a compiler emits them: naive Fibonacci,
 * Ackermann (deep stacks), Towers of Hanoi, mutual recursion, permutations by swapping,
 * the N-queens count, and recursive-descent evaluation of an arithmetic expression.
 */
#include "../lib/rt.h"

static u32 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static u32 ack_calls;
static u32 ackermann(u32 m, u32 n)
{
	ack_calls++;
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ackermann(m - 1, 1);
	return ackermann(m - 1, ackermann(m, n - 1));
}

static u32 hanoi_moves, hanoi_sig;
static void hanoi(int n, int from, int to, int via)
{
	if (n == 0)
		return;
	hanoi(n - 1, from, via, to);
	hanoi_moves++;
	hanoi_sig = hanoi_sig * 31 + (u32)(from * 3 + to);
	hanoi(n - 1, via, to, from);
}

static int is_odd(u32 n);
static int __attribute__((noinline)) is_even(u32 n) { return n == 0 ? 1 : is_odd(n - 1); }
static int __attribute__((noinline)) is_odd(u32 n) { return n == 0 ? 0 : is_even(n - 1); }

static u32 perm_count, perm_sig;
static void permute(char *a, int k, int n)
{
	if (k == n) {
		perm_count++;
		u32 h = 0;
		for (int i = 0; i < n; i++)
			h = h * 7 + (u32)(a[i] - 'a');
		perm_sig ^= h * perm_count;
		return;
	}
	for (int i = k; i < n; i++) {
		char t = a[k]; a[k] = a[i]; a[i] = t;
		permute(a, k + 1, n);
		t = a[k]; a[k] = a[i]; a[i] = t;
	}
}

static int queens(int n, int row, u32 cols, u32 d1, u32 d2)
{
	if (row == n)
		return 1;
	int count = 0;
	u32 free = ~(cols | d1 | d2) & ((1u << n) - 1);
	while (free) {
		u32 bit = free & -free;
		free -= bit;
		count += queens(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
	}
	return count;
}

/* expr := term (('+'|'-') term)* ; term := factor (('*'|'/'|'%') factor)* ;
 * factor := '-' factor | number | '(' expr ')' */
static const char *p;
static s32 expr(void);
static s32 factor(void)
{
	if (*p == '-') {
		p++;
		return -factor();
	}
	if (*p == '(') {
		p++;
		s32 v = expr();
		p++;	/* ')' */
		return v;
	}
	s32 v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}
static s32 term(void)
{
	s32 v = factor();
	for (;;) {
		char op = *p;
		if (op != '*' && op != '/' && op != '%')
			return v;
		p++;
		s32 r = factor();
		v = op == '*' ? v * r : op == '/' ? v / r : v % r;
	}
}
static s32 expr(void)
{
	s32 v = term();
	while (*p == '+' || *p == '-') {
		char op = *p++;
		s32 r = term();
		v = op == '+' ? v + r : v - r;
	}
	return v;
}
static s32 eval(const char *s)
{
	p = s;
	return expr();
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	printf("recursion\n");
	for (u32 n = 0; n <= 24; n += 6)
		printf("fib(%u) = %u\n", n, fib(n));
	printf("ackermann(2,3) = %u\n", ackermann(2, 3));
	ack_calls = 0;
	printf("ackermann(3,6) = %u in %u calls\n", ackermann(3, 6), ack_calls);
	hanoi(16, 0, 2, 1);
	printf("hanoi(16): %u moves, signature %08x\n", hanoi_moves, hanoi_sig);
	printf("is_even(10001) = %d, is_odd(7777) = %d\n", is_even(10001), is_odd(7777));
	char a[] = "abcdefgh";
	permute(a, 0, 8);
	printf("permutations of 8: %u, signature %08x, restored %s\n", perm_count, perm_sig, a);
	for (int n = 4; n <= 9; n++)
		printf("queens(%d) = %d\n", n, queens(n, 0, 0, 0, 0));
	const char *exprs[] = { "1+2*3", "(1+2)*3", "-7/2", "-7%3", "100-(3*(4+5))/-2", "((((((1))))))+-(-(2))" };
	for (unsigned i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++)
		printf("%s = %d\n", exprs[i], eval(exprs[i]));
	return 0;
}

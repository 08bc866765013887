/*
 * sieve: the sieve of Eratosthenes over the odd numbers below 2,000,000 (a byte per
 * number), repeated `reps` times (multiboot command line `reps=N`, default 1): the
 * benchmark workload of bench/cpu.ts. Prints the prime count, the sum of the primes
 * (64-bit), the largest prime, and counts per 100,000 from the last round.
 */
#include "../lib/rt.h"

#define LIMIT 2000000
static u8 composite[LIMIT / 2];

static u32 sieve(void)
{
	memset(composite, 0, sizeof(composite));
	/* composite[i] is the odd number 2i+1 */
	for (u32 i = 1; (2 * i + 1) * (2 * i + 1) < LIMIT; i++) {
		if (composite[i])
			continue;
		u32 p = 2 * i + 1;
		for (u32 j = (p * p) / 2; j < LIMIT / 2; j += p)
			composite[j] = 1;
	}
	u32 count = 1;	/* 2 */
	for (u32 i = 1; i < LIMIT / 2; i++)
		count += !composite[i];
	return count;
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic;
	serial_init();
	u32 reps = cmdline_option(mbi, "reps", 1);
	printf("sieve below %u, %u round(s)\n", LIMIT, reps);
	u32 count = 0;
	for (u32 r = 0; r < reps; r++)
		count = sieve();
	u64 sum = 2;
	u32 largest = 2;
	for (u32 i = 1; i < LIMIT / 2; i++)
		if (!composite[i]) {
			sum += 2 * i + 1;
			largest = 2 * i + 1;
		}
	printf("primes: %u, sum %llu, largest %u\n", count, sum, largest);
	u32 bucket = 1, next = 100000;
	for (u32 i = 1; i < LIMIT / 2; i++) {
		if (2 * i + 1 > next) {
			if (next % 500000 == 0)
				printf("  below %u: %u\n", next, bucket);
			next += 100000;
		}
		bucket += !composite[i];
	}
	return count == 148933 ? 0 : 1;
}

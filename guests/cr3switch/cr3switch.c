/*
 * cr3switch: 64 address spaces, as a kernel keeps one per process. All share the kernel's
 * identity mapping of the low 8 MiB (its page tables marked global, with CR4.PGE on);
 * each maps 0x90000000 to a private frame and 0x90001000 to one shared frame. 100,000
 * context switches (MOV CR3) in a scrambled order, each reading and updating the private
 * word and incrementing the shared one, then every space's final value is checked.
 */
#include "../lib/rt.h"

#define SPACES	64
#define SWITCHES 100000
#define PRIV	0x90000000u
#define SHARED	0x90001000u
#define FRAME(n)	(0x01000000u + (n) * 0x1000u)	/* at 16 MiB */

static u32 pds[SPACES][1024] __attribute__((aligned(4096)));
static u32 pts[SPACES][1024] __attribute__((aligned(4096)));
static u32 pt_low[2][1024] __attribute__((aligned(4096)));
static u32 pt_frames[1024] __attribute__((aligned(4096)));	/* 16-20 MiB, for the kernel's checks */

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	printf("cr3switch: %u address spaces, %u switches\n", SPACES, SWITCHES);
	for (u32 i = 0; i < 2048; i++)
		pt_low[i / 1024][i % 1024] = (i << 12) | 0x103;	/* P, W, G */
	for (u32 i = 0; i < 1024; i++)
		pt_frames[i] = FRAME(i) | 0x003;
	for (u32 s = 0; s < SPACES; s++) {
		pds[s][0] = (u32)pt_low[0] | 3;
		pds[s][1] = (u32)pt_low[1] | 3;
		pds[s][FRAME(0) >> 22] = (u32)pt_frames | 3;
		pds[s][PRIV >> 22] = (u32)pts[s] | 3;
		pts[s][(PRIV >> 12) & 0x3ff] = FRAME(s) | 3;
		pts[s][(SHARED >> 12) & 0x3ff] = FRAME(SPACES) | 3;
		*(volatile u32 *)FRAME(s) = s * 1000;
	}
	*(volatile u32 *)FRAME(SPACES) = 0;
	write_cr4(read_cr4() | CR4_PGE);
	write_cr3((u32)pds[0]);
	write_cr0(read_cr0() | CR0_PG);

	u32 sum = 0, k = 0, bad_cr3 = 0;
	for (u32 i = 0; i < SWITCHES; i++) {
		k = (k * 37 + 11 + (i >> 10)) % SPACES;
		write_cr3((u32)pds[k]);
		bad_cr3 += read_cr3() != (u32)pds[k];
		volatile u32 *priv = (volatile u32 *)PRIV;
		u32 v = *priv;
		sum = sum * 3 + v;
		*priv = v + k + 1;
		(*(volatile u32 *)SHARED)++;
	}
	printf("sum %08x, shared counter %u, cr3 read-back mismatches %u\n", sum, *(volatile u32 *)SHARED, bad_cr3);
	u32 h = 0, total = 0;
	for (u32 s = 0; s < SPACES; s++) {
		u32 v = *(volatile u32 *)FRAME(s);	/* through the kernel mapping */
		h = h * 31 + v;
		total += (v - s * 1000) / (s + 1);
		if (s % 16 == 0)
			printf("space %u: %u\n", s, v);
	}
	printf("final values hash %08x, %u switches accounted for\n", h, total);
	write_cr0(read_cr0() & ~CR0_PG);
	return total == SWITCHES ? 0 : 1;
}

/*
 * paging: two-level i386 paging. Identity and aliased mappings, accessed and dirty bits
 * as the MMU writes them (in the PTE, the PDE, and a 4 MiB PDE), #PF with CR2 and the
 * error code (not present, protection, write, user) for data accesses and instruction
 * fetch, demand mapping by a handler that retries the instruction, INVLPG after a remap,
 * CR0.WP on supervisor writes, user/supervisor pages from ring 3, 4 MiB pages (CR4.PSE),
 * code executed through an alias and rewritten through another, and paging turned off.
 * Every PTE change is followed by INVLPG or a CR3 write: what a stale TLB entry would do
 * is left unspecified by the architecture and differs between implementations.
 */
#include "../lib/pagetest.h"

static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt_low[2][1024] __attribute__((aligned(4096)));	/* 0 - 8 MiB, 4 KiB pages */
static u32 pt_test[1024] __attribute__((aligned(4096)));	/* 0x80000000 - 0x803fffff */
static u8 kstack[8192] __attribute__((aligned(16)));
static u8 ustack[8192] __attribute__((aligned(16)));

#define TEST	0x80000000u
#define FRAME(n)	(0x00c00000u + (n) * 0x1000u)	/* physical frames at 12 MiB, in the 4 MiB identity page */
#define BIG	0xc0000000u				/* a 4 MiB page mapping physical 8 MiB */

/* The MMU writes A and D behind the compiler's back: every page-table access is volatile. */
static volatile u32 *pte(u32 va) { return &((volatile u32 *)pt_test)[(va >> 12) & 0x3ff]; }
static volatile u32 *pde(u32 va) { return &((volatile u32 *)pd)[va >> 22]; }
static volatile u32 *phys(u32 pa) { return (volatile u32 *)pa; }	/* identity mapped */

static volatile u32 *volatile nullish = (volatile u32 *)4;
static const struct pagetest_layout layout = { pte, FRAME(0), (u32)ustack + sizeof(ustack) };

static const u8 ret42[] = { 0xb8, 42, 0, 0, 0, 0xc3 };	/* mov $42, %eax; ret */

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	pagetest_init(&layout, (u32)kstack + sizeof(kstack), "paging");

	for (u32 i = 0; i < 2048; i++)
		pt_low[i / 1024][i % 1024] = (i << 12) | PG_P | PG_W | PG_U;
	pt_low[0][0] = 0;	/* page 0 unmapped: catches null pointers */
	pd[0] = (u32)pt_low[0] | PG_P | PG_W | PG_U;
	pd[1] = (u32)pt_low[1] | PG_P | PG_W | PG_U;
	pd[2] = 0x00800000 | PG_PS | PG_P | PG_W;		/* 8-12 MiB, supervisor only */
	pd[3] = 0x00c00000 | PG_PS | PG_P | PG_W;		/* 12-16 MiB, the test frames */
	*pde(TEST) = (u32)pt_test | PG_P | PG_W | PG_U;
	*pde(BIG) = 0x00800000 | PG_PS | PG_P | PG_W;	/* alias of 8-12 MiB */
	for (u32 n = 0; n < 8; n++)
		for (u32 k = 0; k < 1024; k++)
			phys(FRAME(n))[k] = 0x11111111u * n + k;
	pagetest_map(TEST);

	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((u32)pd);
	write_cr0(read_cr0() | CR0_PG);
	printf("paging on: cr0.pg=%u cr3 %s\n", read_cr0() >> 31, read_cr3() == (u32)pd ? "= pd" : "WRONG");

	/* aliases */
	test_aliases(TEST, pde(TEST));

	/* #PF: not present, read and write; a demand-mapping handler that retries */
	pf_mode = PF_RECOVER;
	PF_TRY("read not present", (void)*(volatile u32 *)(TEST + 0x3010));
	PF_TRY("write not present", *(volatile u32 *)(TEST + 0x3ffc) = 5);
	PF_TRY("null pointer", (void)*nullish);
	test_demand_map(TEST + 0x3000);

	/* CR0.WP: supervisor writes to a read-only page */
	test_wp(TEST + 0x2000);

	/* Instruction fetch from a page that is not present */
	test_fetch_not_present(TEST + 0x3000);

	/* Ring 3: user/supervisor and read/write checks */
	static const struct user_probe ut[] = {
		{ "ring 3 read of a supervisor page", 0, TEST + 0x4000 },
		{ "ring 3 write to a read-only page", 1, TEST + 0x2008 },
		{ "ring 3 read of a not-present page", 0, TEST + 0x3000 },
		{ "ring 3 read of a supervisor 4 MiB page", 0, 0x00900000 },
		{ "ring 3 write to the page directory's page", 1, TEST + 0x4010 },
	};
	user_probes(ut, sizeof(ut) / sizeof(ut[0]));
	user_read_ok(TEST + 0x2000);

	/* INVLPG after remapping, and a CR3 reload */
	test_remaps(TEST + 0x5000);

	/* 4 MiB pages */
	test_large_page("4 MiB", pde(BIG), BIG, 0x00800000, 0x400000);

	/* Code through an alias, rewritten through the other mapping */
	memcpy((void *)TEST, ret42, sizeof(ret42));
	int (*f)(void) = (int (*)(void))(TEST + 0x1000);
	int r1 = f();
	((volatile u8 *)TEST)[1] = 43;
	int r2 = f();
	printf("code via alias: %d, after a write through the other mapping: %d\n", r1, r2);

	/* Paging off */
	write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));
	printf("paging off: cr0.pg=%u, physical frame 0 word 5 = %08x\n", read_cr0() >> 31, phys(FRAME(0))[5]);
	printf("page faults: %u\n", pf_count);
	return 0;
}

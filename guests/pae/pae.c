/*
 * pae: PAE paging (CR4.PAE). Four PDPTEs at CR3 (32-byte aligned), page directories and
 * page tables of 8-byte entries; identity and aliased mappings through 4 KiB and 2 MiB
 * pages, accessed and dirty bits as the MMU writes them (PTE, PDE, 2 MiB PDE), #PF with
 * CR2 and the error code (a not-present PDPTE, PDE or PTE; protection; write; user; rights
 * the AND of the PDE's and the PTE's), INVLPG after a remap, a PDPTE changed and made
 * visible by a CR3 reload, CR0.WP, user/supervisor from ring 3, several address spaces
 * whose PDPTs share one page (CR3 bits 11:5), a page table freed and reused as data, and
 * paging turned off. Every PTE change is followed by INVLPG or a CR3 write, and every PDPTE
 * change by a CR3 write: the PDPTEs are loaded with CR3 by a real CPU and re-read at each
 * walk by QEMU's TCG, so nothing here depends on which.
 * Entries set only P, R/W, U/S and PS (and the MMU's A and D): no NX (pentium3 has none),
 * no bits above 31, no reserved bits.
 */
#include "../lib/pagetest.h"

#define CR4_PAE	0x00000020

#define SPACES	4
/* One page of PDPTs: space s at pdpts[s] (CR3 = its address: bits 11:5 differ). */
static u64 pdpts[SPACES][4] __attribute__((aligned(4096)));
static u64 pd_low[512] __attribute__((aligned(4096)));		/* 0 - 1 GiB */
static u64 pt_low[4][512] __attribute__((aligned(4096)));	/* 0 - 8 MiB, 4 KiB pages */
static u64 pd_test[SPACES][512] __attribute__((aligned(4096)));	/* 0x80000000 - 0xbfffffff */
static u64 pt_test[SPACES][512] __attribute__((aligned(4096)));	/* 0x80000000 - 0x801fffff */
static u64 pd_big[512] __attribute__((aligned(4096)));		/* 0xc0000000 - 0xffffffff */
static u64 pd_alias[512] __attribute__((aligned(4096)));	/* 0x40000000 - 0x7fffffff, PDPTE 1 */
static u64 pt_scratch[512] __attribute__((aligned(4096)));	/* a page table later reused as data */
static u8 kstack[8192] __attribute__((aligned(16)));
static u8 ustack[8192] __attribute__((aligned(16)));

#define TEST	0x80000000u
#define ALIAS	0x40000000u
#define SCRATCH	0x80200000u				/* mapped through pt_scratch */
#define FRAME(n)	(0x00c00000u + (n) * 0x1000u)	/* physical frames at 12 MiB, in a 2 MiB identity page */
#define BIG	0xc0000000u				/* a 2 MiB page mapping physical 8 MiB */

static int cur = 0;	/* the current address space */

/* The MMU writes A and D behind the compiler's back: every page-table access is volatile.
 * Only the low dword of an entry is ever non-zero. */
static volatile u32 *lo(volatile u64 *e) { return (volatile u32 *)e; }
static volatile u32 *pte(u32 va) { return lo(&pt_test[cur][(va >> 12) & 0x1ff]); }
static volatile u32 *pde_big(u32 va) { return lo(&pd_big[(va >> 21) & 0x1ff]); }
static volatile u32 *phys(u32 pa) { return (volatile u32 *)pa; }	/* identity mapped */
static void set(volatile u64 *e, u32 v) { lo(e)[1] = 0; lo(e)[0] = v; }

static void switch_to(int s)
{
	cur = s;
	write_cr3((u32)pdpts[s]);
}

static volatile u32 *volatile nullish = (volatile u32 *)4;
static const struct pagetest_layout layout = { pte, FRAME(0), (u32)ustack + sizeof(ustack) };

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	pagetest_init(&layout, (u32)kstack + sizeof(kstack), "pae");

	for (u32 i = 0; i < 2048; i++)
		set(&pt_low[i / 512][i % 512], (i << 12) | PG_P | PG_W | PG_U);
	set(&pt_low[0][0], 0);	/* page 0 unmapped: catches null pointers */
	for (u32 i = 0; i < 4; i++)
		set(&pd_low[i], (u32)pt_low[i] | PG_P | PG_W | PG_U);
	set(&pd_low[4], 0x00800000 | PG_PS | PG_P | PG_W);		/* 8-10 MiB, supervisor only */
	set(&pd_low[5], 0x00a00000 | PG_PS | PG_P | PG_W);		/* 10-12 MiB */
	set(&pd_low[6], 0x00c00000 | PG_PS | PG_P | PG_W);		/* 12-14 MiB, the test frames */
	set(&pd_big[0], 0x00800000 | PG_PS | PG_P | PG_W);		/* BIG: alias of 8-10 MiB */
	set(&pd_alias[0], 0x00c00000 | PG_PS | PG_P | PG_W | PG_U);	/* ALIAS: the test frames, user */
	for (int s = 0; s < SPACES; s++) {
		set(&pdpts[s][0], (u32)pd_low | PG_P);
		set(&pdpts[s][1], 0);					/* not present until later */
		set(&pdpts[s][2], (u32)pd_test[s] | PG_P);
		set(&pdpts[s][3], (u32)pd_big | PG_P);
		set(&pd_test[s][0], (u32)pt_test[s] | PG_P | PG_W | PG_U);
		set(&pt_test[s][0x10], FRAME(8 + s) | PG_P | PG_W);	/* TEST + 0x10000: private */
		set(&pt_test[s][0x11], FRAME(12) | PG_P | PG_W);	/* TEST + 0x11000: shared */
	}
	set(&pd_test[0][1], (u32)pt_scratch | PG_P | PG_W);
	for (u32 i = 0; i < 512; i++)
		set(&pt_scratch[i], FRAME(16 + (i & 7)) | PG_P | PG_W);
	for (u32 n = 0; n < 24; n++)
		for (u32 k = 0; k < 1024; k++)
			phys(FRAME(n))[k] = 0x11111111u * (n & 15) + k;
	cur = 0;
	pagetest_map(TEST);

	write_cr4(read_cr4() | CR4_PAE);
	write_cr3((u32)pdpts[0]);
	write_cr0(read_cr0() | CR0_PG);
	printf("paging on: cr0.pg=%u cr4.pae=%u cr3 %s\n", read_cr0() >> 31, (read_cr4() >> 5) & 1,
	       read_cr3() == (u32)pdpts[0] ? "= pdpt 0" : "WRONG");

	/* aliases and A/D bits in 8-byte entries */
	volatile u32 *a = (volatile u32 *)TEST;
	volatile u32 *pde_t = lo(&pd_test[0][0]);
	test_aliases(TEST, pde_t);
	printf("high dwords: pte %08x pde %08x pdpte %08x\n", lo(&pt_test[0][0])[1], pde_t[1], lo(&pdpts[0][2])[1]);

	/* #PF: not present at each level; a demand-mapping handler that retries */
	pf_mode = PF_RECOVER;
	PF_TRY("read, PTE not present", (void)*(volatile u32 *)(TEST + 0x3010));
	PF_TRY("write, PTE not present", *(volatile u32 *)(TEST + 0x3ffc) = 5);
	PF_TRY("write, PDE not present", *(volatile u32 *)(TEST + 0x00600008) = 5);
	PF_TRY("read, PDPTE not present", (void)*(volatile u32 *)(ALIAS + 0x123));
	PF_TRY("null pointer", (void)*nullish);
	test_demand_map(TEST + 0x3000);

	/* CR0.WP: supervisor writes to a read-only page */
	test_wp(TEST + 0x2000);

	/* Rights are the AND of the PDE's and the PTE's: a read-only PDE over a writable PTE */
	*pde_t &= ~(u32)PG_W;
	write_cr3(read_cr3());
	PF_TRY("write through a read-only PDE", a[7] = 3);
	*pde_t |= PG_W;
	write_cr3(read_cr3());
	a[7] = 3;
	printf("  after PDE R/W set again: %08x\n", phys(FRAME(0))[7]);

	/* Instruction fetch from a page that is not present */
	test_fetch_not_present(TEST + 0x3000);

	/* Ring 3: user/supervisor and read/write checks */
	static const struct user_probe ut[] = {
		{ "ring 3 read of a supervisor page", 0, TEST + 0x4000 },
		{ "ring 3 write to a read-only page", 1, TEST + 0x2008 },
		{ "ring 3 read of a not-present page", 0, TEST + 0x3000 },
		{ "ring 3 read of a supervisor 2 MiB page", 0, 0x00900000 },
		{ "ring 3 write to a supervisor 2 MiB alias", 1, BIG + 0x10 },
		{ "ring 3 read of a not-present PDPTE", 0, ALIAS },
	};
	user_probes(ut, sizeof(ut) / sizeof(ut[0]));
	user_read_ok(TEST + 0x2000);
	*lo(&pd_test[0][0]) &= ~(u32)PG_U;	/* a supervisor PDE over a user PTE */
	write_cr3(read_cr3());
	int rv = user_read(TEST + 0x2000);
	printf("ring 3 read through a supervisor PDE: vector %d err=%x cr2=%08x\n", rv, pf_err, pf_cr2);
	*lo(&pd_test[0][0]) |= PG_U;
	write_cr3(read_cr3());

	/* INVLPG after remapping, and a CR3 reload */
	test_remaps(TEST + 0x5000);

	/* 2 MiB pages */
	test_large_page("2 MiB", pde_big(BIG), BIG, 0x00800000, 0x200000);
	*pde_big(BIG) = 0x00a00000 | PG_PS | PG_P | PG_W;	/* now physical 10 MiB */
	write_cr3(read_cr3());
	*(volatile u32 *)(BIG + 0x40) = 0x600dcafe;
	printf("2 MiB page moved to 10 MiB: physical %08x\n", *(volatile u32 *)(0x00a00000 + 0x40));

	/* A PDPTE made present, then absent again; each change made visible by a CR3 load */
	for (int s = 0; s < SPACES; s++)
		set(&pdpts[s][1], (u32)pd_alias | PG_P);
	write_cr3(read_cr3());
	u32 r = *(volatile u32 *)(ALIAS + 0x14);
	printf("PDPTE 1 present: %08x (frame 0 word 5), pde A %x\n", r, *lo(&pd_alias[0]) & 0x20);
	for (int s = 0; s < SPACES; s++)
		set(&pdpts[s][1], 0);
	write_cr3(read_cr3());
	PF_TRY("PDPTE 1 absent again", (void)*(volatile u32 *)(ALIAS + 0x14));

	/* Address spaces: PDPTs in one page, a private frame and a shared one at TEST + 0x10000 */
	u32 k = 0, h = 0, bad_cr3 = 0;
	for (u32 i = 0; i < 2000; i++) {
		k = (k * 5 + 3 + (i >> 7)) % SPACES;
		switch_to((int)k);
		bad_cr3 += read_cr3() != (u32)pdpts[k];
		volatile u32 *priv = (volatile u32 *)(TEST + 0x10000);
		u32 v = *priv;
		h = h * 7 + v;
		*priv = v + k + 1;
		(*(volatile u32 *)(TEST + 0x11000))++;
	}
	switch_to(0);
	printf("2000 switches: hash %08x, shared %08x, cr3 mismatches %u\n", h, phys(FRAME(12))[0], bad_cr3);
	for (int s = 0; s < SPACES; s++)
		printf("  space %d: cr3 low bits %03x, private %08x, pte A/D %x\n", s, (u32)pdpts[s] & 0xfff, phys(FRAME(8 + s))[0],
		       *lo(&pt_test[s][0x10]) & 0x60);

	/* A page table in use, then freed and reused as data */
	u32 t = 0;
	for (u32 i = 0; i < 8; i++)
		t += *(volatile u32 *)(SCRATCH + i * 0x1000 + 4 * i);
	printf("through the scratch page table: %08x, its pte A %x\n", t, *lo(&pt_scratch[0]) & 0x20);
	set(&pd_test[0][1], 0);
	write_cr3(read_cr3());
	volatile u32 *data = (volatile u32 *)pt_scratch;
	u32 x = 12345;
	for (u32 i = 0; i < 1024; i++)
		data[i] = rand32(&x);
	u32 c = 0;
	for (u32 i = 0; i < 1024; i++)
		c = c * 31 + data[i];
	printf("page table reused as data: checksum %08x\n", c);
	PF_TRY("its old mapping", (void)*(volatile u32 *)SCRATCH);

	/* Paging off */
	write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));
	write_cr4(read_cr4() & ~CR4_PAE);
	printf("paging off: cr0.pg=%u, physical frame 0 word 5 = %08x\n", read_cr0() >> 31, phys(FRAME(0))[5]);
	printf("page faults: %u\n", pf_count);
	return 0;
}

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
#include "../lib/user.h"

#define PG_P	0x001
#define PG_W	0x002
#define PG_U	0x004
#define PG_A	0x020
#define PG_D	0x040
#define PG_PS	0x080
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

static volatile u32 pf_count, pf_err, pf_cr2, pf_eip;
static volatile int pf_mode;
#define PF_RECOVER	0
#define PF_MAP		1	/* map the page present (FRAME(3)) and retry */
#define PF_USER		2
static jmp_buf recover;
static int cur = 0;	/* the current address space */

/* The MMU writes A and D behind the compiler's back: every page-table access is volatile.
 * Only the low dword of an entry is ever non-zero. */
static volatile u32 *lo(volatile u64 *e) { return (volatile u32 *)e; }
static volatile u32 *pte(u32 va) { return lo(&pt_test[cur][(va >> 12) & 0x1ff]); }
static volatile u32 *pde_big(u32 va) { return lo(&pd_big[(va >> 21) & 0x1ff]); }
static volatile u32 *phys(u32 pa) { return (volatile u32 *)pa; }	/* identity mapped */
static void set(volatile u64 *e, u32 v) { lo(e)[1] = 0; lo(e)[0] = v; }

static void pf_handler(struct trapframe *tf)
{
	pf_count++;
	pf_err = tf->err;
	pf_cr2 = read_cr2();
	pf_eip = tf->eip;
	if (pf_mode == PF_MAP) {
		*pte(pf_cr2) = FRAME(3) | PG_P | PG_W | PG_U;
		invlpg((void *)pf_cr2);
		return;
	}
	if (pf_mode == PF_USER)
		user_abort(14);
	longjmp(recover, 1);
}

static void show_pf(const char *what)
{
	printf("%s: #PF err=%x cr2=%08x\n", what, pf_err, pf_cr2);
}

static void switch_to(int s)
{
	cur = s;
	write_cr3((u32)pdpts[s]);
}

static u32 u_target;
static volatile u32 *volatile nullish = (volatile u32 *)4;
static void u_read(void) { (void)*(volatile u32 *)u_target; uexit(0); }
static void u_write(void) { *(volatile u32 *)u_target = 1; uexit(0); }
static void u_read_ok(void) { uprintf("ring 3 read %08x\n", *(volatile u32 *)u_target); uexit(0); }

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	idt_install();
	idt_set(14, pf_handler, GATE_INTR, 0);
	user_init((u32)kstack + sizeof(kstack));
	printf("pae\n");

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
	*pte(TEST + 0x0000) = FRAME(0) | PG_P | PG_W | PG_U;
	*pte(TEST + 0x1000) = FRAME(0) | PG_P | PG_W | PG_U;	/* alias */
	*pte(TEST + 0x2000) = FRAME(1) | PG_P | PG_U;		/* read-only */
	*pte(TEST + 0x3000) = 0;				/* not present */
	*pte(TEST + 0x4000) = FRAME(2) | PG_P | PG_W;		/* supervisor only */
	*pte(TEST + 0x5000) = FRAME(4) | PG_P | PG_W;		/* remapped below */

	write_cr4(read_cr4() | CR4_PAE);
	write_cr3((u32)pdpts[0]);
	write_cr0(read_cr0() | CR0_PG);
	printf("paging on: cr0.pg=%u cr4.pae=%u cr3 %s\n", read_cr0() >> 31, (read_cr4() >> 5) & 1,
	       read_cr3() == (u32)pdpts[0] ? "= pdpt 0" : "WRONG");

	/* aliases and A/D bits in 8-byte entries */
	volatile u32 *a = (volatile u32 *)TEST, *b = (volatile u32 *)(TEST + 0x1000);
	volatile u32 *pde_t = lo(&pd_test[0][0]);
	printf("before any access: pte A/D %x %x, pde A %x\n", *pte(TEST) & 0x60, *pte(TEST + 0x1000) & 0x60, *pde_t & 0x20);
	u32 r = b[5];
	printf("read alias: %08x; pte A/D %x %x, pde A %x\n", r, *pte(TEST) & 0x60, *pte(TEST + 0x1000) & 0x60, *pde_t & 0x20);
	a[5] = 0xdeadbeef;
	printf("write %08x, read alias %08x, physical %08x; pte A/D %x %x\n", a[5], b[5], phys(FRAME(0))[5],
	       *pte(TEST) & 0x60, *pte(TEST + 0x1000) & 0x60);
	printf("high dwords: pte %08x pde %08x pdpte %08x\n", lo(&pt_test[0][0])[1], pde_t[1], lo(&pdpts[0][2])[1]);
	(void)*(volatile u32 *)(TEST + 0x2000);
	printf("read-only page read: pte A/D %x\n", *pte(TEST + 0x2000) & 0x60);
	*pte(TEST) &= ~(u32)(PG_A | PG_D);
	invlpg((void *)TEST);
	a[6] = 1;
	printf("write after clearing A/D and invlpg: pte A/D %x\n", *pte(TEST) & 0x60);

	/* #PF: not present at each level; a demand-mapping handler that retries */
	pf_mode = PF_RECOVER;
	if (setjmp(recover) == 0)
		(void)*(volatile u32 *)(TEST + 0x3010);
	show_pf("read, PTE not present");
	if (setjmp(recover) == 0)
		*(volatile u32 *)(TEST + 0x3ffc) = 5;
	show_pf("write, PTE not present");
	if (setjmp(recover) == 0)
		*(volatile u32 *)(TEST + 0x00600008) = 5;
	show_pf("write, PDE not present");
	if (setjmp(recover) == 0)
		(void)*(volatile u32 *)(ALIAS + 0x123);
	show_pf("read, PDPTE not present");
	if (setjmp(recover) == 0)
		(void)*nullish;
	show_pf("null pointer");
	pf_mode = PF_MAP;
	u32 before = pf_count;
	r = *(volatile u32 *)(TEST + 0x3008);
	printf("demand map: %u fault(s), read %08x (frame 3 word 2)\n", pf_count - before, r);
	*pte(TEST + 0x3000) = 0;
	invlpg((void *)(TEST + 0x3000));
	before = pf_count;
	*(volatile u32 *)(TEST + 0x3040) = 0xfeedface;
	printf("demand map on write: %u fault(s), frame 3 word 16 = %08x, pte A/D %x\n", pf_count - before, phys(FRAME(3))[16],
	       *pte(TEST + 0x3000) & 0x60);
	*pte(TEST + 0x3000) = 0;
	invlpg((void *)(TEST + 0x3000));

	/* CR0.WP: supervisor writes to a read-only page */
	pf_mode = PF_RECOVER;
	*(volatile u32 *)(TEST + 0x2000) = 0x0badf00d;
	printf("WP=0 supervisor write to read-only: ok, frame 1 word 0 = %08x, pte A/D %x\n", phys(FRAME(1))[0], *pte(TEST + 0x2000) & 0x60);
	write_cr0(read_cr0() | CR0_WP);
	if (setjmp(recover) == 0)
		*(volatile u32 *)(TEST + 0x2004) = 0x0badf00d;
	show_pf("WP=1 supervisor write to read-only");
	printf("  frame 1 word 1 = %08x\n", phys(FRAME(1))[1]);

	/* Rights are the AND of the PDE's and the PTE's: a read-only PDE over a writable PTE */
	*pde_t &= ~(u32)PG_W;
	write_cr3(read_cr3());
	if (setjmp(recover) == 0)
		a[7] = 3;
	show_pf("write through a read-only PDE");
	*pde_t |= PG_W;
	write_cr3(read_cr3());
	a[7] = 3;
	printf("  after PDE R/W set again: %08x\n", phys(FRAME(0))[7]);

	/* Instruction fetch from a page that is not present */
	if (setjmp(recover) == 0)
		((void (*)(void))(TEST + 0x3000))();
	show_pf("call into a not-present page");
	printf("  eip %s cr2\n", pf_eip == pf_cr2 ? "=" : "!=");

	/* Ring 3: user/supervisor and read/write checks */
	pf_mode = PF_USER;
	struct { const char *what; void (*fn)(void); u32 va; } ut[] = {
		{ "ring 3 read of a supervisor page", u_read, TEST + 0x4000 },
		{ "ring 3 write to a read-only page", u_write, TEST + 0x2008 },
		{ "ring 3 read of a not-present page", u_read, TEST + 0x3000 },
		{ "ring 3 read of a supervisor 2 MiB page", u_read, 0x00900000 },
		{ "ring 3 write to a supervisor 2 MiB alias", u_write, BIG + 0x10 },
		{ "ring 3 read of a not-present PDPTE", u_read, ALIAS },
	};
	for (unsigned i = 0; i < sizeof(ut) / sizeof(ut[0]); i++) {
		u_target = ut[i].va;
		int rv = run_user(ut[i].fn, (u32)ustack + sizeof(ustack));
		printf("%s: vector %d err=%x cr2=%08x\n", ut[i].what, rv, pf_err, pf_cr2);
	}
	u_target = TEST + 0x2000;
	run_user(u_read_ok, (u32)ustack + sizeof(ustack));
	*lo(&pd_test[0][0]) &= ~(u32)PG_U;	/* a supervisor PDE over a user PTE */
	write_cr3(read_cr3());
	u_target = TEST + 0x2000;
	int rv = run_user(u_read, (u32)ustack + sizeof(ustack));
	printf("ring 3 read through a supervisor PDE: vector %d err=%x cr2=%08x\n", rv, pf_err, pf_cr2);
	*lo(&pd_test[0][0]) |= PG_U;
	write_cr3(read_cr3());
	pf_mode = PF_RECOVER;

	/* INVLPG after remapping */
	u32 sum = 0;
	for (u32 i = 0; i < 200; i++) {
		*pte(TEST + 0x5000) = FRAME(4 + i % 4) | PG_P | PG_W;
		invlpg((void *)(TEST + 0x5000));
		sum += ((volatile u32 *)(TEST + 0x5000))[i % 1024];
	}
	printf("200 remaps with invlpg: sum %08x\n", sum);
	*pte(TEST + 0x5000) = FRAME(7) | PG_P | PG_W;
	write_cr3(read_cr3());
	printf("remap, then reload CR3: %08x\n", *(volatile u32 *)(TEST + 0x5000));

	/* 2 MiB pages */
	volatile u32 *big = (volatile u32 *)(BIG + 0x123450);
	printf("2 MiB pde A/D before: %x\n", *pde_big(BIG) & 0x60);
	r = *big;
	printf("2 MiB read %08x (physical %08x): pde A/D %x\n", r, *(volatile u32 *)(0x00800000 + 0x123450), *pde_big(BIG) & 0x60);
	*big = 0xabcdef01;
	printf("2 MiB write: physical %08x, pde A/D %x\n", *(volatile u32 *)(0x00800000 + 0x123450), *pde_big(BIG) & 0x60);
	*pde_big(BIG) &= ~(u32)PG_W;
	invlpg((void *)big);
	if (setjmp(recover) == 0)
		*big = 2;
	show_pf("write to a read-only 2 MiB page");
	*pde_big(BIG) &= ~(u32)PG_P;
	invlpg((void *)big);
	if (setjmp(recover) == 0)
		(void)*(volatile u32 *)(BIG + 0x1ffffc);
	show_pf("read of a not-present 2 MiB page");
	*pde_big(BIG) = 0x00a00000 | PG_PS | PG_P | PG_W;	/* now physical 10 MiB */
	write_cr3(read_cr3());
	*(volatile u32 *)(BIG + 0x40) = 0x600dcafe;
	printf("2 MiB page moved to 10 MiB: physical %08x\n", *(volatile u32 *)(0x00a00000 + 0x40));

	/* A PDPTE made present, then absent again; each change made visible by a CR3 load */
	for (int s = 0; s < SPACES; s++)
		set(&pdpts[s][1], (u32)pd_alias | PG_P);
	write_cr3(read_cr3());
	r = *(volatile u32 *)(ALIAS + 0x14);
	printf("PDPTE 1 present: %08x (frame 0 word 5), pde A %x\n", r, *lo(&pd_alias[0]) & 0x20);
	for (int s = 0; s < SPACES; s++)
		set(&pdpts[s][1], 0);
	write_cr3(read_cr3());
	if (setjmp(recover) == 0)
		(void)*(volatile u32 *)(ALIAS + 0x14);
	show_pf("PDPTE 1 absent again");

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
	if (setjmp(recover) == 0)
		(void)*(volatile u32 *)SCRATCH;
	show_pf("its old mapping");

	/* Paging off */
	write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));
	write_cr4(read_cr4() & ~CR4_PAE);
	printf("paging off: cr0.pg=%u, physical frame 0 word 5 = %08x\n", read_cr0() >> 31, phys(FRAME(0))[5]);
	printf("page faults: %u\n", pf_count);
	return 0;
}

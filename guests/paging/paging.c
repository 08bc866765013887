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
#include "../lib/user.h"

#define PG_P	0x001
#define PG_W	0x002
#define PG_U	0x004
#define PG_A	0x020
#define PG_D	0x040
#define PG_PS	0x080

static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt_low[2][1024] __attribute__((aligned(4096)));	/* 0 - 8 MiB, 4 KiB pages */
static u32 pt_test[1024] __attribute__((aligned(4096)));	/* 0x80000000 - 0x803fffff */
static u8 kstack[8192] __attribute__((aligned(16)));
static u8 ustack[8192] __attribute__((aligned(16)));

#define TEST	0x80000000u
#define FRAME(n)	(0x00c00000u + (n) * 0x1000u)	/* physical frames at 12 MiB, in the 4 MiB identity page */
#define BIG	0xc0000000u				/* a 4 MiB page mapping physical 8 MiB */

static volatile u32 pf_count, pf_err, pf_cr2, pf_eip;
static volatile int pf_mode;
#define PF_RECOVER	0
#define PF_MAP		1	/* map the page present (FRAME(3)) and retry */
#define PF_USER		2
static jmp_buf recover;

/* The MMU writes A and D behind the compiler's back: every page-table access is volatile. */
static volatile u32 *pte(u32 va) { return &((volatile u32 *)pt_test)[(va >> 12) & 0x3ff]; }
static volatile u32 *pde(u32 va) { return &((volatile u32 *)pd)[va >> 22]; }
static volatile u32 *phys(u32 pa) { return (volatile u32 *)pa; }	/* identity mapped */

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

static u32 u_target;
static volatile u32 *volatile nullish = (volatile u32 *)4;
static void u_read(void) { (void)*(volatile u32 *)u_target; uexit(0); }
static void u_write(void) { *(volatile u32 *)u_target = 1; uexit(0); }
static void u_read_ok(void) { uprintf("ring 3 read %08x\n", *(volatile u32 *)u_target); uexit(0); }

static const u8 ret42[] = { 0xb8, 42, 0, 0, 0, 0xc3 };	/* mov $42, %eax; ret */

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	idt_install();
	idt_set(14, pf_handler, GATE_INTR, 0);
	user_init((u32)kstack + sizeof(kstack));
	printf("paging\n");

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
	*pte(TEST + 0x0000) = FRAME(0) | PG_P | PG_W | PG_U;
	*pte(TEST + 0x1000) = FRAME(0) | PG_P | PG_W | PG_U;	/* alias */
	*pte(TEST + 0x2000) = FRAME(1) | PG_P | PG_U;		/* read-only */
	*pte(TEST + 0x3000) = 0;				/* not present */
	*pte(TEST + 0x4000) = FRAME(2) | PG_P | PG_W;		/* supervisor only */
	*pte(TEST + 0x5000) = FRAME(4) | PG_P | PG_W;		/* remapped below */

	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((u32)pd);
	write_cr0(read_cr0() | CR0_PG);
	printf("paging on: cr0.pg=%u cr3 %s\n", read_cr0() >> 31, read_cr3() == (u32)pd ? "= pd" : "WRONG");

	/* aliases */
	volatile u32 *a = (volatile u32 *)TEST, *b = (volatile u32 *)(TEST + 0x1000);
	printf("before any access: pte A/D %x %x, pde A %x\n", *pte(TEST) & 0x60, *pte(TEST + 0x1000) & 0x60, *pde(TEST) & 0x20);
	u32 r = b[5];
	printf("read alias: %08x; pte A/D %x %x, pde A %x\n", r, *pte(TEST) & 0x60, *pte(TEST + 0x1000) & 0x60, *pde(TEST) & 0x20);
	a[5] = 0xdeadbeef;
	printf("write %08x, read alias %08x, physical %08x; pte A/D %x %x\n", a[5], b[5], phys(FRAME(0))[5],
	       *pte(TEST) & 0x60, *pte(TEST + 0x1000) & 0x60);
	(void)*(volatile u32 *)(TEST + 0x2000);
	printf("read-only page read: pte A/D %x\n", *pte(TEST + 0x2000) & 0x60);
	*pte(TEST) &= ~(u32)(PG_A | PG_D);
	invlpg((void *)TEST);
	a[6] = 1;
	printf("write after clearing A/D and invlpg: pte A/D %x\n", *pte(TEST) & 0x60);

	/* #PF: not present, read and write; a demand-mapping handler that retries */
	pf_mode = PF_RECOVER;
	if (setjmp(recover) == 0)
		(void)*(volatile u32 *)(TEST + 0x3010);
	show_pf("read not present");
	if (setjmp(recover) == 0)
		*(volatile u32 *)(TEST + 0x3ffc) = 5;
	show_pf("write not present");
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
		{ "ring 3 read of a supervisor 4 MiB page", u_read, 0x00900000 },
		{ "ring 3 write to the page directory's page", u_write, TEST + 0x4010 },
	};
	for (unsigned i = 0; i < sizeof(ut) / sizeof(ut[0]); i++) {
		u_target = ut[i].va;
		int rv = run_user(ut[i].fn, (u32)ustack + sizeof(ustack));
		printf("%s: vector %d err=%x cr2=%08x\n", ut[i].what, rv, pf_err, pf_cr2);
	}
	u_target = TEST + 0x2000;
	run_user(u_read_ok, (u32)ustack + sizeof(ustack));
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

	/* 4 MiB pages */
	volatile u32 *big = (volatile u32 *)(BIG + 0x123450);
	printf("4 MiB pde A/D before: %x\n", *pde(BIG) & 0x60);
	r = *big;
	printf("4 MiB read %08x (physical %08x): pde A/D %x\n", r, *(volatile u32 *)(0x00800000 + 0x123450), *pde(BIG) & 0x60);
	*big = 0xabcdef01;
	printf("4 MiB write: physical %08x, pde A/D %x\n", *(volatile u32 *)(0x00800000 + 0x123450), *pde(BIG) & 0x60);
	*pde(BIG) &= ~(u32)PG_W;
	invlpg((void *)big);
	if (setjmp(recover) == 0)
		*big = 2;
	show_pf("write to a read-only 4 MiB page");
	*pde(BIG) &= ~(u32)PG_P;
	invlpg((void *)big);
	if (setjmp(recover) == 0)
		(void)*(volatile u32 *)(BIG + 0x3ffffc);
	show_pf("read of a not-present 4 MiB page");

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

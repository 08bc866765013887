#include "pagetest.h"

volatile u32 pf_count, pf_err, pf_cr2, pf_eip;
volatile int pf_mode;
jmp_buf pf_recover;
static const struct pagetest_layout *lay;

static void pf_handler(struct trapframe *tf)
{
	pf_count++;
	pf_err = tf->err;
	pf_cr2 = read_cr2();
	pf_eip = tf->eip;
	if (pf_mode == PF_MAP) {
		*lay->pte(pf_cr2) = PT_FRAME(lay, 3) | PG_P | PG_W | PG_U;
		invlpg((void *)pf_cr2);
		return;
	}
	if (pf_mode == PF_USER)
		user_abort(14);
	longjmp(pf_recover, 1);
}

void pagetest_init(const struct pagetest_layout *l, u32 kstack_top, const char *name)
{
	lay = l;
	serial_init();
	idt_install();
	idt_set(14, pf_handler, GATE_INTR, 0);
	user_init(kstack_top);
	printf("%s\n", name);
}

void pagetest_map(u32 va)
{
	*lay->pte(va + 0x0000) = PT_FRAME(lay, 0) | PG_P | PG_W | PG_U;
	*lay->pte(va + 0x1000) = PT_FRAME(lay, 0) | PG_P | PG_W | PG_U;
	*lay->pte(va + 0x2000) = PT_FRAME(lay, 1) | PG_P | PG_U;
	*lay->pte(va + 0x3000) = 0;
	*lay->pte(va + 0x4000) = PT_FRAME(lay, 2) | PG_P | PG_W;
	*lay->pte(va + 0x5000) = PT_FRAME(lay, 4) | PG_P | PG_W;
}

void test_aliases(u32 va, volatile u32 *pde)
{
	volatile u32 *a = (volatile u32 *)va, *b = (volatile u32 *)(va + 0x1000);
	volatile u32 *pa = lay->pte(va), *pb = lay->pte(va + 0x1000);
	printf("before any access: pte A/D %x %x, pde A %x\n", *pa & 0x60, *pb & 0x60, *pde & 0x20);
	u32 r = b[5];
	printf("read alias: %08x; pte A/D %x %x, pde A %x\n", r, *pa & 0x60, *pb & 0x60, *pde & 0x20);
	a[5] = 0xdeadbeef;
	printf("write %08x, read alias %08x, physical %08x; pte A/D %x %x\n", a[5], b[5], ((volatile u32 *)PT_FRAME(lay, 0))[5],
	       *pa & 0x60, *pb & 0x60);
	(void)*(volatile u32 *)(va + 0x2000);
	printf("read-only page read: pte A/D %x\n", *lay->pte(va + 0x2000) & 0x60);
	*pa &= ~(u32)(PG_A | PG_D);
	invlpg((void *)va);
	a[6] = 1;
	printf("write after clearing A/D and invlpg: pte A/D %x\n", *pa & 0x60);
}

void show_pf(const char *what)
{
	printf("%s: #PF err=%x cr2=%08x\n", what, pf_err, pf_cr2);
}

static u32 u_target;
static void u_read(void) { (void)*(volatile u32 *)u_target; uexit(0); }
static void u_write(void) { *(volatile u32 *)u_target = 1; uexit(0); }
static void u_read_ok(void) { uprintf("ring 3 read %08x\n", *(volatile u32 *)u_target); uexit(0); }

void user_probes(const struct user_probe *p, unsigned n)
{
	int mode = pf_mode;
	pf_mode = PF_USER;
	for (unsigned i = 0; i < n; i++) {
		u_target = p[i].va;
		int rv = run_user(p[i].write ? u_write : u_read, lay->ustack_top);
		printf("%s: vector %d err=%x cr2=%08x\n", p[i].what, rv, pf_err, pf_cr2);
	}
	pf_mode = mode;
}

void user_read_ok(u32 va)
{
	u_target = va;
	run_user(u_read_ok, lay->ustack_top);
}

int user_read(u32 va)
{
	int mode = pf_mode;
	pf_mode = PF_USER;
	u_target = va;
	int rv = run_user(u_read, lay->ustack_top);
	pf_mode = mode;
	return rv;
}

void test_demand_map(u32 va)
{
	pf_mode = PF_MAP;
	u32 before = pf_count;
	u32 r = *(volatile u32 *)(va + 8);
	printf("demand map: %u fault(s), read %08x (frame 3 word 2)\n", pf_count - before, r);
	*lay->pte(va) = 0;
	invlpg((void *)va);
	before = pf_count;
	*(volatile u32 *)(va + 0x40) = 0xfeedface;
	printf("demand map on write: %u fault(s), frame 3 word 16 = %08x, pte A/D %x\n", pf_count - before,
	       ((volatile u32 *)PT_FRAME(lay, 3))[16], *lay->pte(va) & 0x60);
	*lay->pte(va) = 0;
	invlpg((void *)va);
	pf_mode = PF_RECOVER;
}

void test_wp(u32 ro_va)
{
	volatile u32 *frame1 = (volatile u32 *)PT_FRAME(lay, 1);
	*(volatile u32 *)ro_va = 0x0badf00d;
	printf("WP=0 supervisor write to read-only: ok, frame 1 word 0 = %08x, pte A/D %x\n", frame1[0], *lay->pte(ro_va) & 0x60);
	write_cr0(read_cr0() | CR0_WP);
	PF_TRY("WP=1 supervisor write to read-only", *(volatile u32 *)(ro_va + 4) = 0x0badf00d);
	printf("  frame 1 word 1 = %08x\n", frame1[1]);
}

void test_fetch_not_present(u32 va)
{
	PF_TRY("call into a not-present page", ((void (*)(void))va)());
	printf("  eip %s cr2\n", pf_eip == pf_cr2 ? "=" : "!=");
}

void test_remaps(u32 va)
{
	u32 sum = 0;
	for (u32 i = 0; i < 200; i++) {
		*lay->pte(va) = PT_FRAME(lay, 4 + i % 4) | PG_P | PG_W;
		invlpg((void *)va);
		sum += ((volatile u32 *)va)[i % 1024];
	}
	printf("200 remaps with invlpg: sum %08x\n", sum);
	*lay->pte(va) = PT_FRAME(lay, 7) | PG_P | PG_W;
	write_cr3(read_cr3());
	printf("remap, then reload CR3: %08x\n", *(volatile u32 *)va);
}

void test_large_page(const char *name, volatile u32 *pde, u32 va, u32 phys, u32 size)
{
	volatile u32 *big = (volatile u32 *)(va + 0x123450);
	volatile u32 *real = (volatile u32 *)(phys + 0x123450);
	printf("%s pde A/D before: %x\n", name, *pde & 0x60);
	u32 r = *big;
	printf("%s read %08x (physical %08x): pde A/D %x\n", name, r, *real, *pde & 0x60);
	*big = 0xabcdef01;
	printf("%s write: physical %08x, pde A/D %x\n", name, *real, *pde & 0x60);
	*pde &= ~(u32)PG_W;
	invlpg((void *)big);
	/* show_pf completes the line: "<what>: #PF ..." */
	printf("write to a read-only %s page", name);
	PF_TRY("", *big = 2);
	*pde &= ~(u32)PG_P;
	invlpg((void *)big);
	printf("read of a not-present %s page", name);
	PF_TRY("", (void)*(volatile u32 *)(va + size - 4));
}

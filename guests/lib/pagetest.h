/*
 * Paging tests shared by the guests that page (paging: 32-bit, pae: PAE): the #PF handler
 * (recover with longjmp, map a page on demand, or abandon a ring-3 function), ring-3
 * probes, CR0.WP, a fetch from a not-present page, remapping with INVLPG and CR3 reloads,
 * and a large page's A/D bits and faults. The guest supplies its page-table layout: where
 * the PTE of a test address is, and the frames the tests map.
 */
#ifndef GUEST_PAGETEST_H
#define GUEST_PAGETEST_H
#include "user.h"

#define PG_P	0x001
#define PG_W	0x002
#define PG_U	0x004
#define PG_A	0x020
#define PG_D	0x040
#define PG_PS	0x080

extern volatile u32 pf_count, pf_err, pf_cr2, pf_eip;
extern volatile int pf_mode;
#define PF_RECOVER	0	/* longjmp to pf_recover */
#define PF_MAP		1	/* map the faulting page to pt_map_frame and retry */
#define PF_USER		2	/* abandon the ring-3 function: run_user returns 14 */
extern jmp_buf pf_recover;

/* The guest's layout: the low dword of the PTE of a test address, the physical address
 * (identity mapped) of the 8 frames the tests use, 4 KiB apart, and the ring-3 stack. */
struct pagetest_layout {
	volatile u32 *(*pte)(u32 va);
	u32 frames;
	u32 ustack_top;
};
#define PT_FRAME(l, n)	((l)->frames + (n) * 0x1000u)
/* Console, IDT with the #PF handler, TSS with the ring-0 stack, and the guest's name on
 * the first line; `l` stays in use. */
void pagetest_init(const struct pagetest_layout *l, u32 kstack_top, const char *name);
/* The test pages at va: +0 and +0x1000 frame 0 (aliases), +0x2000 frame 1 read-only,
 * +0x3000 not present, +0x4000 frame 2 supervisor only, +0x5000 frame 4. */
void pagetest_map(u32 va);
/* Reads and writes through the aliases at va and va + 0x1000, a read of the read-only
 * page, and the A/D bits the MMU sets (pde: the low dword of their PDE). */
void test_aliases(u32 va, volatile u32 *pde);
void show_pf(const char *what);
/* Run `stmt`; if it faults (PF_RECOVER), carry on; then print the fault as `what`. */
#define PF_TRY(what, stmt) do { if (setjmp(pf_recover) == 0) { stmt; } show_pf(what); } while (0)

/* Ring 3: each probe reads or writes its address from CPL 3 and prints the fault. */
struct user_probe { const char *what; int write; u32 va; };
void user_probes(const struct user_probe *p, unsigned n);
void user_read_ok(u32 va);	/* prints "ring 3 read %08x" */
int user_read(u32 va);		/* the vector run_user returned (14 after a #PF) */

/* Demand mapping by the handler, on a read and then a write, of a not-present PTE at va. */
void test_demand_map(u32 va);
/* CR0.WP=0 then 1: supervisor writes to the read-only page at ro_va (frame 1). Leaves WP=1. */
void test_wp(u32 ro_va);
/* A call into the not-present page at va. */
void test_fetch_not_present(u32 va);
/* 200 remaps of va over frames 4..7 with INVLPG, then one with a CR3 reload. */
void test_remaps(u32 va);
/* A large page of `size` bytes at va mapping phys: A/D on read and write, then faults
 * with R/W and then P cleared (each followed by INVLPG). */
void test_large_page(const char *name, volatile u32 *pde, u32 va, u32 phys, u32 size);

#endif

/*
 * debugregs: hardware breakpoints through DR0-DR3 and DR7 with the guest's own #DB handler
 * (SDM Vol. 3B 17.2-17.3): instruction breakpoints (faults before the instruction, passed
 * by setting RF in the frame), data write and read/write breakpoints of 1, 2 and 4 bytes
 * (traps after the access, matched on the overlap with the aligned range), local and
 * global enables, two breakpoints on one address, a disabled breakpoint, a linear address
 * reached through a segment with a non-zero base, and REP STOSB stopped after the
 * iteration that wrote the watched byte. Each #DB prints the EIP it saved and DR6 as the
 * handler read it. Unused DRs hold 0 (QEMU sets B bits for disabled instruction
 * breakpoints whose address matches; the SDM allows it and lkvm's CPU does not).
 *
 * Left to test/machine/debugregs.test.ts, where QEMU 7.2's TCG departs from the SDM: DR
 * values not aligned to LEN (the CPU ignores the low bits; QEMU does not), the last
 * iteration of a REP string instruction (QEMU reports EIP on the instruction), single-step
 * with a data breakpoint (two #DBs under QEMU), general detect (QEMU 7.2 raises no #DB).
 * No I/O breakpoints (R/W 10 with CR4.DE): under kvm port I/O exits to the VMM, and a
 * hypervisor would have to emulate them (Linux does not).
 */
#include "../lib/idt.h"

#define EFLAGS_RF	0x10000

static volatile u32 ndb, db_eip, db_dr6, db_rf, db_ecx, db_edi;
static volatile int pass_rf;

static void db_handler(struct trapframe *tf)
{
	u32 dr6;
	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	ndb++;
	db_eip = tf->eip;
	db_dr6 = dr6;
	db_rf = (tf->eflags >> 16) & 1;
	db_ecx = tf->ecx;
	db_edi = tf->edi;
	__asm__ volatile("mov %0, %%dr6" : : "r"(0));
	/* RF in the frame: IRET loads it, and the instruction breakpoint lets the instruction run once. */
	if (pass_rf)
		tf->eflags |= EFLAGS_RF;
}

static void set_dr(int n, u32 v)
{
	switch (n) {
	case 0: __asm__ volatile("mov %0, %%dr0" : : "r"(v)); break;
	case 1: __asm__ volatile("mov %0, %%dr1" : : "r"(v)); break;
	case 2: __asm__ volatile("mov %0, %%dr2" : : "r"(v)); break;
	case 3: __asm__ volatile("mov %0, %%dr3" : : "r"(v)); break;
	case 6: __asm__ volatile("mov %0, %%dr6" : : "r"(v)); break;
	case 7: __asm__ volatile("mov %0, %%dr7" : : "r"(v)); break;
	}
}

static u32 get_dr(int n)
{
	u32 v = 0;
	switch (n) {
	case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(v)); break;
	case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(v)); break;
	case 6: __asm__ volatile("mov %%dr6, %0" : "=r"(v)); break;
	case 7: __asm__ volatile("mov %%dr7, %0" : "=r"(v)); break;
	}
	return v;
}

/* DR7 for breakpoint n: enable (1 = Ln, 2 = Gn), R/W and LEN fields. */
#define RW_EXEC		0
#define RW_WRITE	1
#define RW_RDWR		3
#define LEN1		0
#define LEN2		1
#define LEN4		3
static u32 dr7_bp(int n, u32 enable, u32 rw, u32 len)
{
	return (enable << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n));
}

static void reset(void)
{
	set_dr(7, 0);
	for (int n = 0; n < 4; n++)
		set_dr(n, 0);
	set_dr(6, 0);
	ndb = 0;
	db_eip = db_dr6 = db_rf = db_ecx = db_edi = 0;
	pass_rf = 0;
}

static volatile u32 counter;
static volatile u32 var __attribute__((aligned(8)));
static volatile u32 var2 __attribute__((aligned(8)));
static volatile u8 buf[16] __attribute__((aligned(16)));

extern char x_insn[], x_next[], w_insn[], w_next[], b_next[], r_next[], rw_next[], seg_next[], rep_insn[], rep_next[];

static const char *at(u32 e, const char *insn, const char *next)
{
	return e == (u32)insn ? "at the instruction" : e == (u32)next ? "after the instruction" : "ELSEWHERE";
}

static void show(const char *what, const char *insn, const char *next)
{
	printf("%s: %u #DB, eip %s, dr6=%x\n", what, ndb, ndb ? at(db_eip, insn, next) : "-", db_dr6);
}

static __attribute__((noinline)) void run_exec_bp(void)
{
	__asm__ volatile(".globl x_insn, x_next\nx_insn: incl %0\nx_next:" : "+m"(counter) : : "cc");
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	idt_install();
	idt_set(1, db_handler, GATE_INTR, 0);
	printf("debugregs\n");

	/* Fixed bits: DR6 reads 0xffff0ff0 after a write of 0, DR7 reads 0x400. */
	reset();
	printf("dr6 after writing 0: %x, dr7 after writing 0: %x\n", get_dr(6), get_dr(7));
	set_dr(3, 0x12345678);
	printf("dr3 holds %x\n", get_dr(3));

	/* Instruction breakpoint (DR0, L0): a fault before INC; RF in the frame lets it run once. */
	reset();
	pass_rf = 1;
	counter = 0;
	set_dr(0, (u32)x_insn);
	set_dr(7, dr7_bp(0, 1, RW_EXEC, LEN1));
	run_exec_bp();
	set_dr(7, 0);
	show("execute DR0 L0", x_insn, x_next);
	printf("  pushed RF %u, counter %u\n", db_rf, counter);

	/* The same through DR1 with the global enable G1, then DR0 and DR2 on one address. */
	reset();
	pass_rf = 1;
	set_dr(1, (u32)x_insn);
	set_dr(7, dr7_bp(1, 2, RW_EXEC, LEN1));
	run_exec_bp();
	set_dr(7, 0);
	show("execute DR1 G1", x_insn, x_next);
	reset();
	pass_rf = 1;
	set_dr(0, (u32)x_insn);
	set_dr(2, (u32)x_insn);
	set_dr(7, dr7_bp(0, 1, RW_EXEC, LEN1) | dr7_bp(2, 1, RW_EXEC, LEN1));
	run_exec_bp();
	set_dr(7, 0);
	show("execute DR0+DR2", x_insn, x_next);
	printf("  counter %u\n", counter);

	/* Data write breakpoint (DR1, 4 bytes): a trap after the MOV; reads do not match. */
	reset();
	set_dr(1, (u32)&var);
	set_dr(7, dr7_bp(1, 1, RW_WRITE, LEN4));
	u32 v = var;
	printf("read of a write-watched dword: %u #DB\n", ndb);
	__asm__ volatile(".globl w_insn, w_next\nw_insn: movl $5, %0\nw_next:" : "=m"(var));
	set_dr(7, 0);
	show("write DR1 len 4", w_insn, w_next);
	/* A byte store to the last byte of the range matches; one past it does not. */
	reset();
	set_dr(1, (u32)&var);
	set_dr(7, dr7_bp(1, 1, RW_WRITE, LEN4));
	__asm__ volatile("movb $1, 4+%0" : "=m"(var));
	printf("byte store past the range: %u #DB\n", ndb);
	__asm__ volatile("movb $1, 3+%0\n.globl b_next\nb_next:" : "=m"(var));
	set_dr(7, 0);
	show("byte store to the range's last byte", 0, b_next);
	/* Read/write breakpoint (DR2, 2 bytes): a read matches, and so does a write. */
	reset();
	set_dr(2, (u32)&var2);
	set_dr(7, dr7_bp(2, 1, RW_RDWR, LEN2));
	__asm__ volatile("movw 2+%1, %w0" : "=r"(v) : "m"(var2));
	printf("read beyond a 2-byte range: %u #DB\n", ndb);
	__asm__ volatile("mov %1, %0\n.globl r_next\nr_next:" : "=r"(v) : "m"(var2));
	show("read DR2 len 2", 0, r_next);
	__asm__ volatile("addl $1, %0\n.globl rw_next\nrw_next:" : "+m"(var2) : : "cc");
	set_dr(7, 0);
	show("read-modify-write DR2 len 2", 0, rw_next);

	/* A disabled breakpoint (DR3 set, L3 = G3 = 0) never matches. */
	reset();
	set_dr(3, (u32)&var);
	set_dr(7, dr7_bp(1, 1, RW_WRITE, LEN1));
	set_dr(1, (u32)&counter);
	__asm__ volatile("movl $3, %0\n.globl dis_next\ndis_next:" : "=m"(var));
	set_dr(7, 0);
	printf("write matching only a disabled breakpoint: %u #DB\n", ndb);

	/* Linear addresses: a write through FS with base var-0x100 at offset 0x100 matches. */
	reset();
	gdt_set(GDT_FREE_FIRST, (u32)&var - 0x100, 0xfff, 0x92, 0x40);
	set_dr(0, (u32)&var);
	set_dr(7, dr7_bp(0, 1, RW_WRITE, LEN4));
	__asm__ volatile(
		"mov %0, %%fs\n\t"
		"movl $9, %%fs:0x100\n"
		".globl seg_next\nseg_next:\n\t"
		"mov %1, %%fs" : : "r"(GDT_FREE_FIRST * 8), "r"(KERNEL_DS) : "memory");
	set_dr(7, 0);
	show("write through a based segment", 0, seg_next);
	printf("  var %u\n", var);

	/* REP STOSB over 16 bytes with a 1-byte write breakpoint on buf[5]: the trap comes after
	 * the sixth iteration, EIP still on the REP STOSB, ECX = 10 left; then it completes. */
	reset();
	set_dr(2, (u32)&buf[5]);
	set_dr(7, dr7_bp(2, 1, RW_WRITE, LEN1));
	u32 d0, d1;
	__asm__ volatile(
		"cld\n.globl rep_insn, rep_next\nrep_insn: rep stosb\nrep_next:"
		: "=c"(d0), "=D"(d1) : "0"(16), "1"(buf), "a"(0x5a) : "memory");
	set_dr(7, 0);
	show("rep stosb x16, write buf[5]", rep_insn, rep_next);
	printf("  ecx %u, edi buf+%u at the trap; at the end ecx %u, buf[15] %x\n", db_ecx, db_edi - (u32)buf, d0, buf[15]);
	(void)v;
	(void)d1;
	printf("done\n");
	exit(0);
}

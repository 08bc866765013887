/*
 * exceptions: an IDT with every exception the i386 defines that a guest can provoke on
 * purpose, checked for vector, error code and fault-or-trap semantics (the saved EIP is
 * the faulting instruction, or the one after it), and software interrupts: INT n, INT3,
 * INTO, the DPL check on gates, single-step traps, a double fault, and ring 3 with
 * the stack switch through the TSS and the privilege checks (CLI, HLT, IN, MOV CR, INT n).
 */
#include "../lib/user.h"

static volatile u32 nvec, vec, err, eip, frame_cs, frame_esp_in_kstack, dr6bs;
static jmp_buf recover;
static volatile int mode;	/* what the handler does after recording */
#define RESUME	0	/* return to the saved EIP */
#define SKIP2	1	/* skip a 2-byte instruction */
#define RECOVER	2	/* longjmp to `recover` */
#define USER	3	/* abandon the ring-3 function */

static u8 kstack[8192] __attribute__((aligned(16)));
static u8 ustack[8192] __attribute__((aligned(16)));

static void record(struct trapframe *tf)
{
	nvec++;
	vec = tf->vector;
	err = tf->err;
	eip = tf->eip;
	frame_cs = tf->cs & 0xffff;
	frame_esp_in_kstack = (u32)tf >= (u32)kstack && (u32)tf < (u32)kstack + sizeof(kstack);
	switch (mode) {
	case SKIP2:
		tf->eip += 2;
		break;
	case RECOVER:
		longjmp(recover, 1);
	case USER:
		user_abort((int)tf->vector);
	}
}

static void db_handler(struct trapframe *tf)
{
	u32 dr6;
	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	dr6bs += (dr6 >> 14) & 1;
	__asm__ volatile("mov %0, %%dr6" : : "r"(0));
	record(tf);
}

extern char de_insn[], de2_insn[], bp_next[], bp2_next[], into_next[], bound_insn[], ud_insn[], gp_insn[];

static const char *where(u32 e, const char *fault_at, const char *next)
{
	return e == (u32)fault_at ? "at the instruction" : e == (u32)next ? "after the instruction" : "ELSEWHERE";
}

static void show(const char *what)
{
	printf("%s: vector %u err %x\n", what, vec, err);
}

/* Ring-3 functions: each provokes one exception; the handler ends the run. */
static void u_cli(void) { __asm__ volatile("cli"); }
static void u_hlt(void) { __asm__ volatile("hlt"); }
static void u_in(void) { inb(0x3fd); }
static void u_cr3(void) { __asm__ volatile("mov %%cr3, %%eax" : : : "eax"); }
static void u_int30(void) { __asm__ volatile("int $0x30"); }
static void u_int3(void) { __asm__ volatile("int3"); }
static void u_hello(void)
{
	uprintf("ring 3: hello, cpl=%u\n", syscall2(SYS_GETCPL, 0, 0));
	u32 sp;
	__asm__ volatile("mov %%esp, %0" : "=r"(sp));
	uprintf("ring 3: on the user stack: %s\n", sp > (u32)ustack && sp <= (u32)ustack + sizeof(ustack) ? "yes" : "no");
	__asm__ volatile("int3");	/* DPL 3 gate now: a #BP that returns here */
	uprintf("ring 3: back from int3, %u traps so far\n", nvec);
	uexit(42);
}
static void u_io(void)
{
	/* IOPL 3: port I/O is allowed in ring 3 */
	const char *s = "ring 3 with IOPL=3 writes COM1 itself\n";
	while (*s) {
		while ((inb(0x3fd) & 0x20) == 0)
			;
		outb(0x3f8, (u8)*s++);
	}
	uexit(7);
}

static void sw_handler(struct trapframe *tf)
{
	nvec++;
	tf->eax = tf->eax * 2 + tf->vector;
}

int kmain(u32 magic, const struct multiboot_info *mbi);
int kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)magic; (void)mbi;
	serial_init();
	idt_install();
	for (int v = 0; v < 20; v++)
		idt_set(v, record, GATE_INTR, 0);
	idt_set(1, db_handler, GATE_INTR, 0);
	user_init((u32)kstack + sizeof(kstack));
	printf("exceptions\n");

	/* #DE: a fault (EIP = the DIV) */
	mode = RECOVER;
	if (setjmp(recover) == 0) {
		volatile u32 zero = 0;
		__asm__ volatile(".globl de_insn\nde_insn: divl %1" : : "a"(1), "m"(zero), "d"(0));
	}
	show("div by 0"); printf("  eip %s\n", where(eip, de_insn, 0));
	if (setjmp(recover) == 0)
		__asm__ volatile(".globl de2_insn\nde2_insn: idivl %0" : : "r"(-1), "a"(0x80000000), "d"(0xffffffff));
	show("INT_MIN / -1"); printf("  eip %s\n", where(eip, de2_insn, 0));

	/* #BP, INT 3 and INTO are traps: EIP after the instruction, execution goes on */
	mode = RESUME;
	__asm__ volatile("int3\n.globl bp_next\nbp_next:");
	show("int3"); printf("  eip %s\n", where(eip, 0, bp_next));
	__asm__ volatile(".byte 0xcd, 0x03\n.globl bp2_next\nbp2_next:");
	show("int $3"); printf("  eip %s\n", where(eip, 0, bp2_next));
	u32 before = nvec;
	__asm__ volatile("xor %%eax, %%eax; into" : : : "eax", "cc");
	printf("into with OF=0: %s\n", nvec == before ? "no trap" : "TRAPPED");
	__asm__ volatile("mov $0x7fffffff, %%eax; add $1, %%eax; into\n.globl into_next\ninto_next:" : : : "eax", "cc");
	show("into with OF=1"); printf("  eip %s\n", where(eip, 0, into_next));

	/* #BR: BOUND is a fault */
	mode = RECOVER;
	static s32 bounds[2] = { 10, 20 };
	before = nvec;
	__asm__ volatile("bound %0, %1" : : "r"(15), "m"(bounds[0]));
	printf("bound 15 in [10,20]: %s\n", nvec == before ? "no fault" : "FAULTED");
	if (setjmp(recover) == 0)
		__asm__ volatile(".globl bound_insn\nbound_insn: bound %0, %1" : : "r"(21), "m"(bounds[0]));
	show("bound 21 in [10,20]"); printf("  eip %s\n", where(eip, bound_insn, 0));

	/* #UD: a fault; the handler skips UD2 and execution goes on */
	mode = SKIP2;
	__asm__ volatile(".globl ud_insn\nud_insn: ud2");
	show("ud2"); printf("  eip %s\n", where(eip, ud_insn, 0));

	/* #NM: x87 instructions with CR0.EM or CR0.TS set; WAIT with CR0.MP and CR0.TS */
	mode = SKIP2;
	u32 cr0 = read_cr0();
	write_cr0(cr0 | CR0_EM);
	__asm__ volatile("fninit");
	show("fninit, CR0.EM=1");
	write_cr0((cr0 & ~CR0_EM) | CR0_TS);
	__asm__ volatile("fninit");
	show("fninit, CR0.TS=1");
	write_cr0((cr0 & ~CR0_EM) | CR0_TS | CR0_MP);
	__asm__ volatile("fwait; nop");	/* 1-byte WAIT: SKIP2 also skips the NOP */
	show("fwait, CR0.MP=TS=1");
	__asm__ volatile("clts");
	write_cr0(cr0);
	printf("clts: CR0.TS=%u\n", (read_cr0() & CR0_TS) >> 3);

	/* #GP, #NP, #SS on segment loads; the error code is the selector */
	mode = RECOVER;
	gdt_set(GDT_FREE_FIRST, 0, 0xfffff, 0x12, 0xc0);	/* 0x30: data, not present */
	gdt_set(GDT_FREE_FIRST + 1, 0, 0xfffff, 0x92, 0xc0);	/* 0x38: data, present */
	gdt_set(GDT_FREE_FIRST + 2, 0, 0xfffff, 0x9a, 0xc0);	/* 0x40: code */
	gdt_set(GDT_FREE_FIRST + 3, 0, 0xfffff, 0xf2, 0xc0);	/* 0x48: DPL 3 data */
	if (setjmp(recover) == 0)
		__asm__ volatile(".globl gp_insn\ngp_insn: mov %0, %%ds" : : "r"(0x80));
	show("mov ds, 0x80 (beyond the GDT limit)"); printf("  eip %s\n", where(eip, gp_insn, 0));
	if (setjmp(recover) == 0)
		__asm__ volatile("mov %0, %%es" : : "r"(TSS_SEL));
	show("mov es, the TSS selector");
	if (setjmp(recover) == 0)
		__asm__ volatile("mov %0, %%fs" : : "r"(0x30));
	show("mov fs, not-present data");
	if (setjmp(recover) == 0)
		__asm__ volatile("mov %%ss, %%ax; mov %0, %%ss; mov %%ax, %%ss" : : "r"(0x30) : "eax");
	show("mov ss, not-present data");
	if (setjmp(recover) == 0)
		__asm__ volatile("mov %%ss, %%ax; mov %0, %%ss; mov %%ax, %%ss" : : "r"(0x48) : "eax");
	show("mov ss, DPL 3 data at CPL 0");
	if (setjmp(recover) == 0)
		__asm__ volatile("mov %%ss, %%ax; mov %0, %%ss; mov %%ax, %%ss" : : "r"(0x40) : "eax");
	show("mov ss, a code segment");
	if (setjmp(recover) == 0)
		__asm__ volatile("ljmp $0x38, $0");
	show("ljmp to a data segment");
	/* (No access through a null selector or beyond a data segment limit: QEMU's TCG
	 * does not check segment limits on data accesses, so there is nothing to compare.) */
	u32 v;
	__asm__ volatile("mov %1, %%fs; mov %%fs, %0" : "=r"(v) : "r"(0x38));
	printf("mov fs, 0x38 (present): fs=%x\n", v & 0xffff);

	/* #DF: the #GP gate is not present, so delivering #GP raises #NP: a double fault */
	idt_set(8, record, GATE_INTR, 0);
	idt_set_present(13, 0);
	if (setjmp(recover) == 0)
		__asm__ volatile("mov %0, %%ds" : : "r"(0x80));
	show("#GP with its gate not present");
	idt_set_present(13, 1);
	idt_set(0x31, record, GATE_INTR, 0);
	idt_set_present(0x31, 0);
	if (setjmp(recover) == 0)
		__asm__ volatile("int $0x31");
	show("int $0x31 with its gate not present");

	/* Single step: TF set by POPF traps after the next instruction, and after the POPF that clears it */
	mode = RESUME;
	before = nvec;
	dr6bs = 0;
	__asm__ volatile(
		"pushf; orl $0x100, (%%esp); popf\n\t"
		"nop; nop; nop\n\t"
		"pushf; andl $~0x100, (%%esp); popf\n\t"
		"nop" : : : "memory", "cc");
	printf("single step: %u #DB traps, %u with DR6.BS\n", nvec - before, dr6bs);
	/* (No ICEBP/INT1, F1: QEMU 7.2's TCG raises #UD for it where an i386 raises #DB.) */

	/* Software interrupts through trap and interrupt gates */
	idt_set(0x30, sw_handler, GATE_TRAP, 0);
	idt_set(0x40, sw_handler, GATE_INTR, 0);
	u32 r;
	__asm__ volatile("int $0x30" : "=a"(r) : "a"(100));
	printf("int $0x30: eax %u\n", r);
	__asm__ volatile("int $0x40" : "=a"(r) : "a"(r));
	printf("int $0x40: eax %u\n", r);

	/* Ring 3 */
	mode = USER;
	struct { const char *name; void (*fn)(void); } faults[] = {
		{ "cli", u_cli }, { "hlt", u_hlt }, { "in", u_in }, { "mov from cr3", u_cr3 },
		{ "int $0x30 (DPL 0 gate)", u_int30 }, { "int3 (DPL 0 gate)", u_int3 },
	};
	for (unsigned i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		int rv = run_user(faults[i].fn, (u32)ustack + sizeof(ustack));
		printf("ring 3 %s: vector %d err %x from cs %x, on the TSS stack: %s\n", faults[i].name, rv, err, frame_cs,
		       frame_esp_in_kstack ? "yes" : "no");
	}
	mode = RESUME;
	idt_set(3, record, GATE_TRAP, 3);
	nvec = 0;
	printf("ring 3 returned %d\n", run_user(u_hello, (u32)ustack + sizeof(ustack)));
	user_eflags = 0x3002;
	printf("ring 3 returned %d\n", run_user(u_io, (u32)ustack + sizeof(ustack)));
	__asm__ volatile("mov %0, %%fs; mov %0, %%gs" : : "r"(KERNEL_DS));
	printf("done\n");
	return 0x21;
}

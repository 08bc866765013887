/*
 * The guests' runtime: port I/O, the console (COM1 polled through LSR, and the 0xE9
 * debug console), a small printf, the exit device (isa-debug-exit at 0xF4), the GDT and
 * TSS, control-register access, setjmp/longjmp. Freestanding: no libc.
 */
#ifndef GUEST_RT_H
#define GUEST_RT_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef unsigned int size_t;
#define NULL ((void *)0)

/* multiboot.h (v1): the fields this runtime reads. */
#define MULTIBOOT_BOOTLOADER_MAGIC	0x2BADB002
#define MULTIBOOT_INFO_MEMORY		0x00000001
#define MULTIBOOT_INFO_CMDLINE		0x00000004
struct multiboot_info {
	u32 flags;
	u32 mem_lower;
	u32 mem_upper;
	u32 boot_device;
	u32 cmdline;
	u32 mods_count;
	u32 mods_addr;
};

/* GDT selectors of the runtime (gdt_install). */
#define KERNEL_CS	0x08
#define KERNEL_DS	0x10
#define USER_CS		0x1b
#define USER_DS		0x23
#define TSS_SEL		0x28
/* Free GDT slots (0x30..0x78) for guests that test descriptors. */
#define GDT_FREE_FIRST	6
#define GDT_ENTRIES	16

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline u32 read_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u32 read_cr2(void) { u32 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u32 read_cr3(void) { u32 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u32 read_cr4(void) { u32 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u32 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(const volatile void *p) { __asm__ volatile("invlpg (%0)" : : "r"(p) : "memory"); }
static inline u32 read_eflags(void) { u32 v; __asm__ volatile("pushf; pop %0" : "=r"(v)); return v; }
static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }

#define CR0_PE	0x00000001
#define CR0_MP	0x00000002
#define CR0_EM	0x00000004
#define CR0_TS	0x00000008
#define CR0_WP	0x00010000
#define CR0_PG	0x80000000
#define CR4_PSE	0x00000010
#define CR4_PGE	0x00000080
#define EFLAGS_CF 0x0001
#define EFLAGS_IF 0x0200
#define EFLAGS_TF 0x0100
#define EFLAGS_OF 0x0800

/* Console: bytes go to every channel set in `console`. */
#define CON_COM1	1
#define CON_E9		2
extern int console;
void serial_init(void);
void putchar(int c);
void puts(const char *s);	/* no newline added */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void exit(int code);

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
const char *strstr(const char *h, const char *n);
u32 parse_u32(const char *s);

/* Multiboot command-line option `name=N` (decimal), or dflt. */
u32 cmdline_option(const struct multiboot_info *mbi, const char *name, u32 dflt);

/* Deterministic pseudo-random numbers (xorshift32). */
u32 rand32(u32 *state);

/* Descriptors. */
struct gdt_entry { u16 limit_lo, base_lo; u8 base_mid, access, gran, base_hi; } __attribute__((packed));
extern struct gdt_entry gdt[GDT_ENTRIES];
void gdt_set(int i, u32 base, u32 limit, u8 access, u8 gran);
void gdt_install(void);
struct tss {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u32 es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap_base;
} __attribute__((packed));
extern struct tss tss;
/* Install the TSS with the ring-0 stack used on entry from ring 3. */
void tss_install(u32 esp0);

typedef struct { u32 ebx, esi, edi, ebp, esp, eip; } jmp_buf[1];
int setjmp(jmp_buf b) __attribute__((returns_twice));
__attribute__((noreturn)) void longjmp(jmp_buf b, int v);

/* Entry state saved by entry.S. */
extern u32 entry_eax, entry_ebx, entry_esp, entry_eflags, entry_cr0;
extern u16 entry_sel[6];

#endif

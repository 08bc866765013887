/* The guests' runtime (see rt.h). */
#include "rt.h"

#define COM1		0x3f8
#define UART_THR	0
#define UART_DLL	0
#define UART_IER	1
#define UART_DLM	1
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_LSR_THRE	0x20
#define UART_LCR_DLAB	0x80
#define DEBUGCON	0xe9
#define DEBUG_EXIT	0xf4

int console = CON_COM1;

/* 115200 8N1, FIFOs on, interrupts off: what a driver for a 16550 programs. */
void serial_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, UART_LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, 0x03);
	outb(COM1 + UART_FCR, 0x07);
	outb(COM1 + UART_MCR, 0x03);
}

static void com1_putc(u8 c)
{
	while ((inb(COM1 + UART_LSR) & UART_LSR_THRE) == 0)
		;
	outb(COM1 + UART_THR, c);
}

void putchar(int c)
{
	if (console & CON_COM1)
		com1_putc((u8)c);
	if (console & CON_E9)
		outb(DEBUGCON, (u8)c);
}

void puts(const char *s)
{
	while (*s)
		putchar(*s++);
}

void exit(int code)
{
	outb(DEBUG_EXIT, (u8)code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void print_num(u64 v, int base, int width, int zero, int neg, int upper)
{
	char buf[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	do {
		buf[n++] = digits[v % (unsigned)base];	/* u64 % and / go through libgcc */
		v /= (unsigned)base;
	} while (v != 0);
	if (neg)
		width--;
	if (neg && zero)
		putchar('-');
	for (; width > n; width--)
		putchar(zero ? '0' : ' ');
	if (neg && !zero)
		putchar('-');
	while (n > 0)
		putchar(buf[--n]);
}

/* %[-|0][width][l|ll](d|i|u|x|X|c|s|p|%); '-' left-justifies strings */
int printf(const char *fmt, ...)
{
	__builtin_va_list ap;
	__builtin_va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putchar(*fmt);
			continue;
		}
		fmt++;
		int zero = 0, width = 0, lng = 0, left = 0;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			zero = 1;
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			s64 v = lng >= 2 ? __builtin_va_arg(ap, s64) : (s64)__builtin_va_arg(ap, s32);
			print_num(v < 0 ? (u64)-v : (u64)v, 10, width, zero, v < 0, 0);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			u64 v = lng >= 2 ? __builtin_va_arg(ap, u64) : (u64)__builtin_va_arg(ap, u32);
			print_num(v, *fmt == 'u' ? 10 : 16, width, zero, 0, *fmt == 'X');
			break;
		}
		case 'p':
			print_num((u32)__builtin_va_arg(ap, void *), 16, 8, 1, 0, 0);
			break;
		case 'c':
			putchar(__builtin_va_arg(ap, int));
			break;
		case 's': {
			const char *s = __builtin_va_arg(ap, const char *);
			int len = (int)strlen(s);
			if (left)
				puts(s);
			for (; width > len; width--)
				putchar(' ');
			if (!left)
				puts(s);
			break;
		}
		case '%':
			putchar('%');
			break;
		default:
			putchar('?');
			break;
		}
	}
	__builtin_va_end(ap);
	return 0;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;
	if (dp < sp) {
		while (n--)
			*dp++ = *sp++;
	} else {
		while (n--)
			dp[n] = sp[n];
	}
	return d;
}

void *memset(void *d, int c, size_t n)
{
	u8 *dp = d;
	while (n--)
		*dp++ = (u8)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (*a == 0)
			return 0;
	}
	return 0;
}

const char *strstr(const char *h, const char *n)
{
	size_t len = strlen(n);
	for (; *h; h++)
		if (strncmp(h, n, len) == 0)
			return h;
	return NULL;
}

u32 parse_u32(const char *s)
{
	u32 v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (u32)(*s++ - '0');
	return v;
}

u32 cmdline_option(const struct multiboot_info *mbi, const char *name, u32 dflt)
{
	if (!(mbi->flags & MULTIBOOT_INFO_CMDLINE) || mbi->cmdline == 0)
		return dflt;
	const char *cl = (const char *)mbi->cmdline;
	size_t len = strlen(name);
	for (const char *p = cl; (p = strstr(p, name)) != NULL; p += len) {
		if ((p == cl || p[-1] == ' ') && p[len] == '=')
			return parse_u32(p + len + 1);
	}
	return dflt;
}

u32 rand32(u32 *state)
{
	u32 x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* ---- descriptors ---------------------------------------------------------------- */

struct gdt_entry gdt[GDT_ENTRIES];
struct tss tss;

void gdt_set(int i, u32 base, u32 limit, u8 access, u8 gran)
{
	gdt[i].limit_lo = (u16)limit;
	gdt[i].base_lo = (u16)base;
	gdt[i].base_mid = (u8)(base >> 16);
	gdt[i].access = access;
	gdt[i].gran = (u8)((gran & 0xf0) | ((limit >> 16) & 0x0f));
	gdt[i].base_hi = (u8)(base >> 24);
}

/* Flat 4 GiB segments: ring-0 code/data at 0x08/0x10 (the selectors QEMU's multiboot
 * loader leaves), ring-3 code/data at 0x18/0x20. */
void gdt_install(void)
{
	struct { u16 limit; u32 base; } __attribute__((packed)) gdtr = { sizeof(gdt) - 1, (u32)gdt };
	gdt_set(1, 0, 0xfffff, 0x9a, 0xc0);
	gdt_set(2, 0, 0xfffff, 0x92, 0xc0);
	gdt_set(3, 0, 0xfffff, 0xfa, 0xc0);
	gdt_set(4, 0, 0xfffff, 0xf2, 0xc0);
	__asm__ volatile(
		"lgdt %0\n\t"
		"ljmp %1, $1f\n"
		"1:\n\t"
		"mov %2, %%ax\n\t"
		"mov %%ax, %%ds\n\t"
		"mov %%ax, %%es\n\t"
		"mov %%ax, %%ss\n\t"
		"mov %%ax, %%fs\n\t"
		"mov %%ax, %%gs\n\t"
		: : "m"(gdtr), "i"(KERNEL_CS), "i"(KERNEL_DS) : "eax", "memory");
}

void tss_install(u32 esp0)
{
	memset(&tss, 0, sizeof(tss));
	tss.ss0 = KERNEL_DS;
	tss.esp0 = esp0;
	tss.iomap_base = sizeof(tss);	/* no I/O permission bitmap: ring 3 I/O faults at IOPL 0 */
	gdt_set(5, (u32)&tss, sizeof(tss) - 1, 0x89, 0x00);
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

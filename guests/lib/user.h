/*
 * Ring 3 for the guests: run_user() enters a function at CPL 3 through IRET (with the
 * TSS giving the ring-0 stack for the way back in) and returns when the function makes
 * the SYS_EXIT system call, or when a handler calls user_abort(). System calls are
 * INT 0x80 through a DPL-3 trap gate: EAX = number, EBX, ECX = arguments, EAX = result.
 */
#ifndef GUEST_USER_H
#define GUEST_USER_H
#include "idt.h"

#define SYSCALL_VECTOR	0x80
#define SYS_EXIT	0	/* ebx = value returned by run_user */
#define SYS_PRINTF	1	/* ebx = format, ecx = one argument */
#define SYS_GETCPL	2	/* returns the CPL the call came from (CS.RPL of the frame) */

/* Install the TSS, with `kstack_top` as the ring-0 stack, and the system call gate. */
void user_init(u32 kstack_top);
/* EFLAGS that run_user enters ring 3 with (default 0x2: IF=0, IOPL=0). */
extern u32 user_eflags;
/* Run fn at CPL 3 on the stack ending at `ustack_top`; returns fn's SYS_EXIT value. */
int run_user(void (*fn)(void), u32 ustack_top);
/* From a trap handler: abandon the user function; run_user returns `value`. */
__attribute__((noreturn)) void user_abort(int value);

static inline u32 syscall2(u32 nr, u32 a, u32 b)
{
	u32 r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory");
	return r;
}
#define uprintf(fmt, arg)	syscall2(SYS_PRINTF, (u32)(fmt), (u32)(arg))
#define uexit(v)		syscall2(SYS_EXIT, (u32)(v), 0)

#endif

// sys/sys/param.h, machine/param.h (amd64): page size and the model's tunables.

export { PAGE_SHIFT, PAGE_SIZE, PAGE_MASK } from "../../machine/addr.js";

/** Most CPUs the kernel supports (the machine allows 64). */
export const MAXCPU = 64;
/** Clock interrupts per second of simulated time (kern.hz). */
export const HZ_DEFAULT = 1000;
/** Cycles between hardclock() ticks: 1 GHz TSC / hz. */
export const TICK_CYCLES_DEFAULT = 1_000_000;
export const NOCPU = -1;

export const howmany = (x: number, y: number) => Math.floor((x + y - 1) / y);
export const roundup2 = (x: number, y: number) => Math.ceil(x / y) * y;
export const rounddown2 = (x: number, y: number) => Math.floor(x / y) * y;

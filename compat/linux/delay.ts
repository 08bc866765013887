// include/linux/delay.h: busy-wait delays. The CPU spins: simulated time passes on it
// while the other CPUs run, and nothing else is scheduled on it, so a delay is legal
// with preemption off or a spinlock held (msleep, which sleeps, is not).

import { linux_api } from "./export.js";

export const ndelay = (nsecs: number): Promise<void> => linux_api().ndelay(nsecs);
export const udelay = (usecs: number): Promise<void> => linux_api().udelay(usecs);
export const mdelay = (msecs: number): Promise<void> => linux_api().mdelay(msecs);

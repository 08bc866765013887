// include/linux/jiffies.h: time in ticks of the running kernel (HZ per second).

import { linux_api } from "./export.js";

/** Milliseconds as jiffies, rounded up (a timeout is never shorter than asked). */
export const msecs_to_jiffies = (m: number): number => linux_api().msecs_to_jiffies(m);

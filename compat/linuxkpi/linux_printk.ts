// include/linux/printk.h on FreeBSD: printk is printf(9) into the message buffer.
// DIVERGENCE: the KERN_* level is dropped (FreeBSD's printf has no log levels and
// every message reaches the console), as LinuxKPI's printk does.

import { printf } from "../../host-freebsd/kern/subr_prf.js";

export function linux_printk(_level: string, msg: string): void {
  printf(msg.endsWith("\n") ? msg : msg + "\n");
}

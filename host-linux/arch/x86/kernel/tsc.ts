// arch/x86/kernel/tsc.c: the TSC frequency this model assumes for every CPU (1 GHz),
// which turns cycles into the seconds printk and HZ speak.

export const TSC_KHZ = 1_000_000;

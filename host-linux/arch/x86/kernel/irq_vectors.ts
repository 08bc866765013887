// arch/x86/include/asm/irq_vectors.h: the system vectors this kernel uses.

export const LOCAL_TIMER_VECTOR = 0xec;
export const CALL_FUNCTION_SINGLE_VECTOR = 0xfb;
export const CALL_FUNCTION_VECTOR = 0xfc;
export const RESCHEDULE_VECTOR = 0xfd;

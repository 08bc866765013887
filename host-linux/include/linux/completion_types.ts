// include/linux/completion.h: struct completion, embedded in a module's structures.
// What is inside belongs to the kernel that initialised it (init_completion): a done
// count and a wait queue here (kernel/sched/completion).

export class completion {
  /** Kernel-private state; null until init_completion. */
  impl: unknown = null;
}

// include/linux/completion.h: struct completion, embedded in a module's structures.
// What is inside belongs to the kernel that initialised it (init_completion): a done
// count and a wait queue on Linux, a done count on a sleep queue behind the shim.

export class completion {
  /** Kernel-private state; null until init_completion. */
  impl: unknown = null;
}

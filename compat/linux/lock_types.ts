// include/linux/spinlock_types.h, include/linux/mutex_types.h: lock objects embedded
// in a module's structures. What is inside belongs to the kernel that initialised the
// lock (spin_lock_init / mutex_init): a raw spinlock on Linux, a FreeBSD mtx or sx
// behind the shim.

export class spinlock_t {
  /** Kernel-private lock state; null until spin_lock_init. */
  impl: unknown = null;
}

export class mutex {
  impl: unknown = null;
}

/** include/linux/semaphore.h: a counting semaphore (sema_init sets the count). */
export class semaphore {
  impl: unknown = null;
}

// include/linux/spinlock_types.h, include/linux/mutex_types.h: lock objects embedded
// in a module's structures. What is inside belongs to the kernel that initialised the
// lock (spin_lock_init / mutex_init): here a raw_spinlock and a struct mutex of
// kernel/locking/.

export class spinlock_t {
  /** Kernel-private lock state; null until spin_lock_init. */
  impl: unknown = null;
}

export class mutex {
  impl: unknown = null;
}

/** include/linux/semaphore.h: a counting semaphore. */
export class semaphore {
  impl: unknown = null;
}

// The choices a Linux compatibility layer on FreeBSD has to make, as a preset the
// linuxkpi kld is loaded with. Defaults are today's LinuxKPI (sys/compat/linuxkpi),
// except get_cpu, which uses sched_pin as the 2007 port settled on ("Make
// get_cpu()/put_cpu() use sched_pin()/sched_unpin()"). Issue 5 adds more presets.

export interface LinuxkpiConfig {
  /** get_cpu/put_cpu: sched_pin (2007 port: stay on this CPU, may still sleep) or
   *  critical_enter (LinuxKPI today: no preemption, no sleeping), or
   *  none (2007 snapshot, before "Make get_cpu()/put_cpu() use sched_pin()/sched_unpin()"):
   *  returns the current CPU id and pins nothing, so the thread may migrate. */
  readonly get_cpu: "sched_pin" | "critical_enter" | "none";
  /** spinlock_t: an MTX_DEF sleep mutex (LinuxKPI) or an MTX_SPIN spin mutex, which
   *  disables interrupts and enters a critical section while held, or none (2007
   *  snapshot: "Comment out spinlock and mutex implementations"): lock and unlock do
   *  nothing. */
  readonly spinlock: "mtx_def" | "mtx_spin" | "none";
  /** struct mutex: an exclusive sx (LinuxKPI) or a sema(9) initialised to 1 (the 2007
   *  port's plan: "sema(9) primitives will be used for Linux mutexes"), or none (2007
   *  snapshot: commented out, lock and unlock do nothing), or mtx_def (before Jul 24
   *  2007: "Using sleep mutexes as a replacement for Linux semaphores is incorrect,
   *  since sleeping inside them is not allowed and they don't work (obviously) for
   *  semaphores with count not starting from one"). */
  readonly mutex: "sx" | "sema" | "none" | "mtx_def";
  /** alloc_pages: vm_page_alloc_noobj[_contig] (LinuxKPI) or vm_phys_alloc_contig for
   *  every size plus a pfn -> page hash for pfn_to_page (2007 port). */
  readonly alloc_pages: "vm_page_alloc_noobj" | "vm_phys_alloc_contig";
  /** How copy_{from,to}_user reach an ioctl argument sys_ioctl already copied in:
   *  fake_address (LinuxKPI): the driver gets LINUX_IOCTL_MIN_PTR, a window onto the
   *    kernel copy, bounds-checked against the size in the command;
   *  registered_area (2007 port's "safe copy mechanism"): the driver gets the caller's
   *    real pointer; copies inside [arg, arg + size) go to the kernel copy, copies
   *    outside it go to user memory with copyin/copyout. */
  readonly ioctl_user_copy: "fake_address" | "registered_area";
  /** kfree inside a critical section: defer it to a task (LinuxKPI's
   *  linux_kfree_async) or call free(9) at once, which panics there. */
  readonly kfree_in_critical: "defer" | "free";
  /** `current`: a task_struct per FreeBSD thread (LinuxKPI, and what the 2007 port
   *  needed) or static (2007 snapshot, "Introduce an implementation for get_current()":
   *  "We just use a statically allocated struct task_struct and return a pointer to it.
   *  This only works when only a single thread accesses linux-kmod-compat"). Optional:
   *  absent means per_thread. */
  readonly current?: "per_thread" | "static";
  /** Opens of a misc device: any number (Linux, LinuxKPI) or exclusive (2007 port,
   *  "Add support for miscdevice calls": "We allow miscdevices to be opened at any given
   *  time by at most one user"): a second open while one is open fails with EBUSY.
   *  Optional: absent means shared. */
  readonly misc_open?: "shared" | "exclusive";
  /** struct semaphore: a sema(9) with the semaphore's count (2007 fix, "Will move to
   *  sema(9)"; LinuxKPI), an MTX_DEF sleep mutex (before Jul 24 2007: "Using sleep mutexes
   *  as a replacement for Linux semaphores is incorrect, since sleeping inside them is not
   *  allowed and they don't work (obviously) for semaphores with count not starting from
   *  one"), or none ("Comment out semaphore implementation"). Optional: absent means sema. */
  readonly semaphore?: "sema" | "mtx_def" | "none";
  /** mmap(2) of a Linux file (KVM's VM and vcpu fds): fo_mmap (LinuxKPI's
   *  linux_file_mmap: the driver's fops.mmap, then a pager that calls vm_ops->fault on
   *  each fault), or none (2007 port, "Since we cannot hook the mmap() call to the open
   *  VM file descriptor"): the shim's fileops have no mmap, as struct fileops had none
   *  before FreeBSD 11 (jhb, "Add a new file operations hook for mmap operations",
   *  D2658), and mmap(2) of a Linux file fails with ENODEV. vm_mmap from the driver
   *  still works either way (the port's ioctl). Optional: absent means fo_mmap. */
  readonly file_mmap?: "fo_mmap" | "none";
}

export const LINUXKPI_DEFAULT_CONFIG: LinuxkpiConfig = {
  get_cpu: "sched_pin",
  spinlock: "mtx_def",
  mutex: "sx",
  alloc_pages: "vm_page_alloc_noobj",
  ioctl_user_copy: "fake_address",
  kfree_in_critical: "defer",
  // LinuxKPI: a task_struct per thread (linux_current.c), any number of opens.
  current: "per_thread",
  misc_open: "shared",
  semaphore: "sema",
  file_mmap: "fo_mmap",
};

/** LinuxKPI as it is in FreeBSD today, get_cpu included. */
export const LINUXKPI_TODAY_CONFIG: LinuxkpiConfig = { ...LINUXKPI_DEFAULT_CONFIG, get_cpu: "critical_enter" };

/** The 2007 linux-kmod-compat port's choices after its fixes, as far as the model can
 *  express them (preset "2007"). */
export const LINUX_KMOD_COMPAT_2007_CONFIG: LinuxkpiConfig = {
  // "Make get_cpu()/put_cpu() use sched_pin()/sched_unpin()" (Aug 4 2007)
  get_cpu: "sched_pin",
  // "in the near future sleep mutexes will be used for Linux spinlocks" (Aug 1 2007)
  spinlock: "mtx_def",
  // "sema(9) primitives will be used for Linux mutexes" (Aug 1 2007)
  mutex: "sema",
  // "Now we use always vm_phys_alloc_contig(), and we keep track of allocated pages in a
  // hash table, to implement pfn_to_page()" (Aug 4 2007)
  alloc_pages: "vm_phys_alloc_contig",
  // "Use the safe copy mechanism for ioctl()s" (Aug 4 2007)
  ioctl_user_copy: "registered_area",
  // "allowing calls to kfree()/vfree()/__free_pages() inside IPI handlers ... can block.
  // A deferred deallocation mechanism should be a good solution" (Aug 4 2007: not done yet)
  kfree_in_critical: "free",
  // "a correct solution would be too complex for the actual uses of the current pointer"
  // (Jul 28 2007): the fix the snapshot lacks, a task_struct per thread
  current: "per_thread",
  // "We allow miscdevices to be opened at any given time by at most one user" (Jun 26 2007)
  misc_open: "exclusive",
  // "Will move to sema(9)" (Jul 24 2007)
  semaphore: "sema",
  // "Since we cannot hook the mmap() call to the open VM file descriptor we change the
  // API adding an ioctl() doing the same things" (Aug 7 2007)
  file_mmap: "none",
};

/** The code as it was reviewed (preset "2007-snapshot"): "Prepare for code revision ...
 *  This is the snapshot of the code that will be reviewed. Still misses proper locking
 *  and SMP operation." (Aug 20 2007). It "should work in UP, on SMP it makes the system
 *  crash if qemu executed unpinned" (Aug 19 2007). */
export const LINUX_KMOD_COMPAT_2007_SNAPSHOT_CONFIG: LinuxkpiConfig = {
  // "Implement get_cpu()/put_cpu()" (Aug 2 2007), before sched_pin: the CPU id, no pinning
  get_cpu: "none",
  // "Comment out spinlock and mutex implementations ... By now just ignore the problem"
  // (Aug 1 2007)
  spinlock: "none",
  // same commit; and "Comment out semaphore implementation" (Jul 24 2007)
  mutex: "none",
  // "Now we use always vm_phys_alloc_contig()" (Aug 4 2007)
  alloc_pages: "vm_phys_alloc_contig",
  // "Use the safe copy mechanism for ioctl()s" (Aug 4 2007)
  ioctl_user_copy: "registered_area",
  // "kfree()/vfree()/__free_pages() inside IPI handlers ... can block" (Aug 4 2007)
  kfree_in_critical: "free",
  // "We just use a statically allocated struct task_struct and return a pointer to it.
  // This only works when only a single thread accesses linux-kmod-compat" (Jul 28 2007)
  current: "static",
  // "We allow miscdevices to be opened at any given time by at most one user" (Jun 26 2007)
  misc_open: "exclusive",
  // "Comment out semaphore implementation" (Jul 24 2007)
  semaphore: "none",
  // "Implement the mmap() on the VM file descriptor as an ioctl()" (Aug 7 2007)
  file_mmap: "none",
};

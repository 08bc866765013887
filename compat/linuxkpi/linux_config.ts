// The choices a Linux compatibility layer on FreeBSD has to make, as a preset the
// linuxkpi kld is loaded with. Defaults are today's LinuxKPI (sys/compat/linuxkpi),
// except get_cpu, which uses sched_pin as the 2007 port settled on ("Make
// get_cpu()/put_cpu() use sched_pin()/sched_unpin()"). Issue 5 adds more presets.

export interface LinuxkpiConfig {
  /** get_cpu/put_cpu: sched_pin (2007 port: stay on this CPU, may still sleep) or
   *  critical_enter (LinuxKPI today: no preemption, no sleeping). */
  readonly get_cpu: "sched_pin" | "critical_enter";
  /** spinlock_t: an MTX_DEF sleep mutex (LinuxKPI) or an MTX_SPIN spin mutex, which
   *  disables interrupts and enters a critical section while held. */
  readonly spinlock: "mtx_def" | "mtx_spin";
  /** struct mutex: an exclusive sx (LinuxKPI) or a sema(9) initialised to 1 (the 2007
   *  port's plan: "sema(9) primitives will be used for Linux mutexes"). */
  readonly mutex: "sx" | "sema";
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
}

export const LINUXKPI_DEFAULT_CONFIG: LinuxkpiConfig = {
  get_cpu: "sched_pin",
  spinlock: "mtx_def",
  mutex: "sx",
  alloc_pages: "vm_page_alloc_noobj",
  ioctl_user_copy: "fake_address",
  kfree_in_critical: "defer",
};

/** LinuxKPI as it is in FreeBSD today, get_cpu included. */
export const LINUXKPI_TODAY_CONFIG: LinuxkpiConfig = { ...LINUXKPI_DEFAULT_CONFIG, get_cpu: "critical_enter" };

/** The 2007 linux-kmod-compat port's choices, as far as the model can express them. */
export const LINUX_KMOD_COMPAT_2007_CONFIG: LinuxkpiConfig = {
  get_cpu: "sched_pin",
  spinlock: "mtx_def",
  mutex: "sema",
  alloc_pages: "vm_phys_alloc_contig",
  ioctl_user_copy: "registered_area",
  kfree_in_critical: "free",
};

// sys/sys/lock.h, sys/_lock.h: struct lock_object, common to every lock class, and
// the class flags WITNESS reads.

export const LC_SLEEPLOCK = 0x00000001;
export const LC_SPINLOCK = 0x00000002;
/** Holders may sleep (sx, lockmgr): not a "non-sleepable lock" for WITNESS. */
export const LC_SLEEPABLE = 0x00000004;
export const LC_RECURSABLE = 0x00000008;

export const LO_RECURSABLE = 0x00040000;
export const LO_SLEEPABLE = 0x00100000;
export const LO_INITIALIZED = 0x00010000;

export interface lock_class {
  readonly lc_name: string;
  readonly lc_flags: number;
}

export const lock_class_mtx_sleep: lock_class = { lc_name: "sleep mutex", lc_flags: LC_SLEEPLOCK | LC_RECURSABLE };
export const lock_class_mtx_spin: lock_class = { lc_name: "spin mutex", lc_flags: LC_SPINLOCK | LC_RECURSABLE };
export const lock_class_sx: lock_class = { lc_name: "sx", lc_flags: LC_SLEEPLOCK | LC_SLEEPABLE | LC_RECURSABLE };
export const lock_class_sema: lock_class = { lc_name: "sema", lc_flags: LC_SLEEPABLE };

export class lock_object {
  lo_flags = 0;
  /** WITNESS: where the lock was last acquired ("@ file:line" in reports). */
  lo_site: string | null = null;
  constructor(
    public lo_name: string,
    readonly lo_class: lock_class,
  ) {}
}

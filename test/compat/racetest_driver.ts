// A Linux driver for test/compat/port_stages.test.ts, written only against compat/linux:
// a misc device "racetest" whose RACETEST_ADD ioctl does a read-modify-write of a shared
// counter under a struct mutex, with a sleeping allocation (kmalloc GFP_KERNEL) and a
// preemption point (cond_resched) between the read and the write. Both are legal under
// a Linux mutex, and 2007 KVM did the like under kvm->lock (allocating shadow pages and
// memory slots). With the mutex commented out (the 2007 snapshot) two callers interleave
// there and an update is lost; with a sleep mutex standing in for it, WITNESS panics on
// the sleep; sema(9) and sx(9) both hold.
//
// RACETEST_ADD_SPIN does the same under a spinlock_t with a udelay (a busy-wait, legal
// under a spinlock) between the read and the write, as a driver polling its hardware
// would. On SMP the other CPU runs meanwhile: with spin_lock commented out (the 2007
// snapshot) updates are lost; an MTX_DEF (LinuxKPI, 2007 fix) makes the contender
// block on the turnstile, an MTX_SPIN makes it spin, and both hold.

import { MODULE, module_data } from "../../compat/linux/module.js";
import type { module } from "../../compat/linux/module_types.js";
import { misc_register, misc_deregister, MISC_DYNAMIC_MINOR, type miscdevice } from "../../compat/linux/miscdevice.js";
import type { file, file_operations } from "../../compat/linux/fs_types.js";
import { kfree, kmalloc } from "../../compat/linux/slab.js";
import { GFP_KERNEL } from "../../compat/linux/gfp.js";
import { mutex, mutex_init, mutex_lock, mutex_unlock, mutex_destroy } from "../../compat/linux/mutex.js";
import { cond_resched } from "../../compat/linux/sched.js";
import { spinlock_t, spin_lock, spin_lock_init, spin_unlock } from "../../compat/linux/spinlock.js";
import { udelay } from "../../compat/linux/delay.js";
import { ENOIOCTLCMD, ENOMEM } from "../../compat/linux/errno.js";
import { _IO, linux_ioctl } from "../../include/uapi/asm-generic/ioctl.js";

export const RACETEST_TYPE = 0x55;
/** Adds its argument (by value) to the counter; returns 0. */
export const RACETEST_ADD = _IO("RACETEST_ADD", RACETEST_TYPE, 1);
/** Returns the counter. */
export const RACETEST_GET = _IO("RACETEST_GET", RACETEST_TYPE, 2);
/** Adds its argument to the counter under the spinlock, busy-waiting in between. */
export const RACETEST_ADD_SPIN = _IO("RACETEST_ADD_SPIN", RACETEST_TYPE, 3);

interface dev_state {
  misc: miscdevice;
  /** Protected by lock. */
  counter: number;
  lock: mutex;
  spin: spinlock_t;
}

const st = (): dev_state => module_data("racetest", () => ({ misc: { minor: MISC_DYNAMIC_MINOR, name: "racetest", fops }, counter: 0, lock: new mutex(), spin: new spinlock_t() }));

async function racetest_ioctl(_filp: file, cmd: number, arg: number): Promise<number> {
  const s = st();
  switch (cmd) {
    case linux_ioctl(RACETEST_ADD): {
      await mutex_lock(s.lock);
      const v = s.counter;
      // A record of the update, allocated as 2007 KVM allocated under kvm->lock.
      const rec = await kmalloc(64, GFP_KERNEL);
      if (rec === null) {
        mutex_unlock(s.lock);
        return -ENOMEM;
      }
      await cond_resched();
      s.counter = v + arg;
      kfree(rec);
      mutex_unlock(s.lock);
      return 0;
    }
    case linux_ioctl(RACETEST_ADD_SPIN): {
      await spin_lock(s.spin);
      const v = s.counter;
      await udelay(5); // e.g. waiting for a device register to settle
      s.counter = v + arg;
      spin_unlock(s.spin);
      return 0;
    }
    case linux_ioctl(RACETEST_GET):
      return s.counter;
    default:
      return -ENOIOCTLCMD;
  }
}

const fops: file_operations = {
  get owner() {
    return racetest_module;
  },
  unlocked_ioctl: racetest_ioctl,
};

export const racetest_module: module = MODULE({
  name: "racetest",
  license: "GPL",
  description: "lost updates without locks (port stages test)",
  depends: [],
  async init() {
    const s = st();
    mutex_init(s.lock, "racetest");
    spin_lock_init(s.spin, "racetest_spin");
    return misc_register(s.misc);
  },
  async exit() {
    await misc_deregister(st().misc);
    mutex_destroy(st().lock);
  },
});

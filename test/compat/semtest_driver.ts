// A Linux driver for test/compat/port_stages.test.ts (d): semaphores whose count does not
// start at one, the case the 2007 log gives for dropping sleep mutexes ("they don't work
// (obviously) for semaphores with count not starting from one"). SEMTEST_WAIT sleeps in
// down() on a semaphore initialised to 0 until another process calls SEMTEST_POST (up());
// the semaphore is a signal between processes, with no owner.

import { MODULE, module_data } from "../../compat/linux/module.js";
import type { module } from "../../compat/linux/module_types.js";
import { misc_register, misc_deregister, MISC_DYNAMIC_MINOR, type miscdevice } from "../../compat/linux/miscdevice.js";
import type { file, file_operations } from "../../compat/linux/fs_types.js";
import { semaphore, sema_init, down, up } from "../../compat/linux/semaphore.js";
import { ENOIOCTLCMD } from "../../compat/linux/errno.js";
import { _IO, linux_ioctl } from "../../include/uapi/asm-generic/ioctl.js";

export const SEMTEST_TYPE = 0x56;
export const SEMTEST_WAIT = _IO("SEMTEST_WAIT", SEMTEST_TYPE, 1);
export const SEMTEST_POST = _IO("SEMTEST_POST", SEMTEST_TYPE, 2);

interface dev_state {
  misc: miscdevice;
  /** Starts at 0: down() waits for an up(). */
  ready: semaphore;
  /** Posts seen by waiters, for the test. */
  woken: number;
}

const st = (): dev_state => module_data("semtest", () => ({ misc: { minor: MISC_DYNAMIC_MINOR, name: "semtest", fops }, ready: new semaphore(), woken: 0 }));

async function semtest_ioctl(_filp: file, cmd: number, _arg: number): Promise<number> {
  const s = st();
  switch (cmd) {
    case linux_ioctl(SEMTEST_WAIT):
      await down(s.ready);
      return ++s.woken;
    case linux_ioctl(SEMTEST_POST):
      up(s.ready);
      return 0;
    default:
      return -ENOIOCTLCMD;
  }
}

const fops: file_operations = {
  get owner() {
    return semtest_module;
  },
  unlocked_ioctl: semtest_ioctl,
};

export const semtest_module: module = MODULE({
  name: "semtest",
  license: "GPL",
  description: "a semaphore starting at 0 (port stages test)",
  depends: [],
  async init() {
    sema_init(st().ready, 0, "semtest_ready");
    return misc_register(st().misc);
  },
  async exit() {
    await misc_deregister(st().misc);
  },
});

// A Linux driver for the completion part of test/compat/model.test.ts, written only
// against compat/linux: four completions behind /dev/comptest, each ioctl one call of
// <linux/completion.h> on completion `arg & 0xf`. CT_WAITING tells how many tasks are
// inside a wait on one, so a test program can wait until its waiters sleep.

import { MODULE, module_data } from "../../compat/linux/module.js";
import type { module } from "../../compat/linux/module_types.js";
import { misc_register, misc_deregister, MISC_DYNAMIC_MINOR, type miscdevice } from "../../compat/linux/miscdevice.js";
import type { file, file_operations } from "../../compat/linux/fs_types.js";
import {
  completion, complete, complete_all, completion_done, init_completion, reinit_completion, try_wait_for_completion, wait_for_completion,
  wait_for_completion_timeout,
} from "../../compat/linux/completion.js";
import { msecs_to_jiffies } from "../../compat/linux/jiffies.js";
import { cond_resched } from "../../compat/linux/sched.js";
import { EINVAL, ENOIOCTLCMD } from "../../compat/linux/errno.js";
import { _IO, linux_ioctl } from "../../include/uapi/asm-generic/ioctl.js";

export const COMPTEST_TYPE = 0x57;
export const CT_WAIT = _IO("CT_WAIT", COMPTEST_TYPE, 1);
/** arg: index | milliseconds << 4. Returns 0 on timeout, 1 when completed in time. */
export const CT_WAIT_TIMEOUT = _IO("CT_WAIT_TIMEOUT", COMPTEST_TYPE, 2);
export const CT_COMPLETE = _IO("CT_COMPLETE", COMPTEST_TYPE, 3);
export const CT_COMPLETE_ALL = _IO("CT_COMPLETE_ALL", COMPTEST_TYPE, 4);
export const CT_TRY = _IO("CT_TRY", COMPTEST_TYPE, 5);
export const CT_DONE = _IO("CT_DONE", COMPTEST_TYPE, 6);
export const CT_REINIT = _IO("CT_REINIT", COMPTEST_TYPE, 7);
export const CT_WAITING = _IO("CT_WAITING", COMPTEST_TYPE, 8);

const NR = 4;

interface dev_state {
  misc: miscdevice;
  c: completion[];
  /** Tasks inside a wait, per completion. */
  waiting: number[];
  /** Wakeups so far, per completion: a waiter returns its rank. */
  woken: number[];
}

const st = (): dev_state =>
  module_data("comptest", () => ({
    misc: { minor: MISC_DYNAMIC_MINOR, name: "comptest", fops },
    c: Array.from({ length: NR }, () => new completion()),
    waiting: new Array<number>(NR).fill(0),
    woken: new Array<number>(NR).fill(0),
  }));

async function comptest_ioctl(_filp: file, cmd: number, arg: number): Promise<number> {
  const s = st();
  const i = arg & 0xf;
  if (i >= NR) return -EINVAL;
  const x = s.c[i];
  switch (cmd) {
    case linux_ioctl(CT_WAIT):
      s.waiting[i]++;
      await wait_for_completion(x);
      s.waiting[i]--;
      return ++s.woken[i];
    case linux_ioctl(CT_WAIT_TIMEOUT): {
      const j = msecs_to_jiffies(arg >> 4);
      s.waiting[i]++;
      const left = await wait_for_completion_timeout(x, j);
      s.waiting[i]--;
      // The jiffies left are the kernel's own business; they must be in (0, j].
      return left === 0 ? 0 : left > 0 && left <= j ? 1 : -EINVAL;
    }
    case linux_ioctl(CT_COMPLETE):
      complete(x);
      return 0;
    case linux_ioctl(CT_COMPLETE_ALL):
      complete_all(x);
      return 0;
    case linux_ioctl(CT_TRY):
      return try_wait_for_completion(x) ? 1 : 0;
    case linux_ioctl(CT_DONE):
      return completion_done(x) ? 1 : 0;
    case linux_ioctl(CT_REINIT):
      reinit_completion(x);
      return 0;
    case linux_ioctl(CT_WAITING):
      await cond_resched();
      return s.waiting[i];
    default:
      return -ENOIOCTLCMD;
  }
}

const fops: file_operations = {
  get owner() {
    return comptest_module;
  },
  unlocked_ioctl: comptest_ioctl,
};

export const comptest_module: module = MODULE({
  name: "comptest",
  license: "GPL",
  description: "completions between processes (model-based test)",
  depends: [],
  async init() {
    for (const x of st().c) init_completion(x);
    return misc_register(st().misc);
  },
  async exit() {
    await misc_deregister(st().misc);
  },
});

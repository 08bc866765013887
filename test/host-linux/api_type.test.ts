// Compile-time check: host-linux's exported API object is a compat/linux linux_kernel_api,
// and its Linux header types are structurally those of compat/linux.

import { describe, expect, it } from "vitest";
import type { linux_kernel_api } from "../../compat/linux/export.js";
import type * as compat_fs from "../../compat/linux/fs_types.js";
import type * as compat_mm from "../../compat/linux/mm_types.js";
import type * as compat_misc from "../../compat/linux/miscdevice_types.js";
import type * as compat_module from "../../compat/linux/module_types.js";
import type * as compat_sched from "../../compat/linux/sched_types.js";
import type * as compat_lock from "../../compat/linux/lock_types.js";
import type * as hl_fs from "../../host-linux/include/linux/fs_types.js";
import type * as hl_mm from "../../host-linux/include/linux/mm_types.js";
import type * as hl_misc from "../../host-linux/include/linux/miscdevice_types.js";
import type * as hl_module from "../../host-linux/include/linux/module_types.js";
import type * as hl_sched from "../../host-linux/include/linux/sched_types.js";
import type * as hl_lock from "../../host-linux/include/linux/lock_types.js";
import type * as compat_completion from "../../compat/linux/completion_types.js";
import type * as hl_completion from "../../host-linux/include/linux/completion_types.js";
import * as compat_gfp from "../../compat/linux/gfp_types.js";
import * as hl_gfp from "../../host-linux/include/linux/gfp_types.js";
import * as compat_errno from "../../compat/linux/errno.js";
import * as hl_errno from "../../host-linux/include/linux/errno.js";
import type { linux_kernel } from "../../host-linux/init/main.js";
import { boot } from "./helpers.js";

type Assignable<A, B> = [A] extends [B] ? true : false;
const yes = <T extends true>(): T => true as T;

// Each direction where the type flows.
yes<Assignable<compat_module.module, hl_module.module>>();
yes<Assignable<hl_module.module, compat_module.module>>();
yes<Assignable<compat_fs.file_operations, hl_fs.file_operations>>();
yes<Assignable<hl_fs.file, compat_fs.file>>();
yes<Assignable<hl_fs.inode, compat_fs.inode>>();
yes<Assignable<compat_misc.miscdevice, hl_misc.miscdevice>>();
yes<Assignable<compat_mm.vm_operations_struct, hl_mm.vm_operations_struct>>();
yes<Assignable<hl_mm.vm_area_struct, compat_mm.vm_area_struct>>();
yes<Assignable<hl_sched.task_struct, compat_sched.task_struct>>();
yes<Assignable<compat_lock.spinlock_t, hl_lock.spinlock_t>>();
yes<Assignable<compat_lock.mutex, hl_lock.mutex>>();
yes<Assignable<compat_completion.completion, hl_completion.completion>>();

describe("linux_kernel_api", () => {
  it("the exported object is assignable to compat/linux's linux_kernel_api", () => {
    const { k } = boot();
    const api: linux_kernel_api = (k as linux_kernel).api;
    expect(Object.keys(api).sort()).toEqual(Object.keys(k.api).sort());
  });

  it("gfp flags and errno values are those of compat/linux", () => {
    for (const [name, v] of Object.entries(compat_gfp)) if (typeof v === "number") expect((hl_gfp as Record<string, unknown>)[name], name).toBe(v);
    for (const [name, v] of Object.entries(compat_errno)) if (typeof v === "number") expect((hl_errno as Record<string, unknown>)[name], name).toBe(v);
  });
});

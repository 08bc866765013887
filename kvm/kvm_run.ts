// Writing struct kvm_run, the page a vcpu shares with userspace: the exit reason and the
// exit-specific union at KVM_RUN_EXIT_UNION (include/uapi/linux/kvm.ts has the layouts).

import { kwrite, kwrite32 } from "../compat/linux/kmem.js";
import { pr_err } from "../compat/linux/printk.js";
import { kva, type Kva } from "../compat/linux/types.js";
import {
  KVM_EXIT_INTERNAL_ERROR, KVM_INTERNAL_ERROR_EMULATION, KVM_RUN_EXIT_UNION, kvm_run_header_layout, kvm_run_internal_layout,
} from "../include/uapi/linux/kvm.js";
import { encode } from "../include/uapi/struct_layout.js";

const EXIT_REASON_OFFSET = kvm_run_header_layout.offsetOf("exit_reason")!;

export function set_exit_reason(run: Kva, reason: number): void {
  kwrite32(kva(run + EXIT_REASON_OFFSET), reason);
}

/** Fill the exit union (io, mmio, debug.arch, hw.hardware_exit_reason, ...). */
export function set_exit_union(run: Kva, bytes: Uint8Array): void {
  kwrite(kva(run + KVM_RUN_EXIT_UNION), bytes);
}

/** KVM_EXIT_INTERNAL_ERROR with suberror KVM_INTERNAL_ERROR_EMULATION: an access kvm
 *  cannot emulate. Returns 0: the exit goes to userspace. */
export function kvm_internal_error(run: Kva, why: string): number {
  pr_err(`kvm: emulation failure: ${why}`);
  set_exit_reason(run, KVM_EXIT_INTERNAL_ERROR);
  set_exit_union(run, encode(kvm_run_internal_layout, { suberror: KVM_INTERNAL_ERROR_EMULATION, ndata: 0 }));
  return 0;
}

// The kvm module's static storage (.data/.bss): one instance per load into a kernel.
//   kvm_lock (spinlock) protects vm_list.
//   vmxarea[cpu] and current_vmcs[cpu] are per-CPU (per_cpu(vmxarea) / per_cpu(current_vmcs)
//   in vmx.c): touched only on that CPU, with preemption off, or while loading/unloading.

import type { page } from "../compat/linux/mm_types.js";
import type { miscdevice } from "../compat/linux/miscdevice_types.js";
import type { dentry } from "../compat/linux/debugfs_types.js";
import { module_data } from "../compat/linux/module.js";
import { param_value } from "../compat/linux/moduleparam.js";
import { spin_lock_init, spinlock_t } from "../compat/linux/spinlock.js";
import type { kvm } from "./kvm_host.js";

export interface kvm_module_globals {
  readonly kvm_lock: spinlock_t;
  readonly vm_list: kvm[];
  misc: miscdevice | null;
  /** Per-CPU VMXON regions. */
  readonly vmxarea: (page | null)[];
  /** Per-CPU: the VMCS most recently VMPTRLDed there. */
  readonly current_vmcs: (number | null)[];
  /** Module parameter enable_ept (insmod kvm enable_ept=1 / kenv
   *  compat.linuxkpi.kvm_enable_ept=1; kvm_module.ts declares it): VMs
   *  created while it is set use two-dimensional paging (EPT) instead of shadow paging.
   *  Default off. Read at KVM_CREATE_VM. */
  enable_ept: boolean;
  /** Module parameter mmu_cache (insmod kvm mmu_cache=0 turns it off): the shadow MMU keeps
   *  shadow pages across guest CR3 loads, keyed by guest table, write-protecting the
   *  guest's page tables (mmu.ts). Default on. Read at each CR3 load and shadow fault.
   *  DIVERGENCE: Linux has no such switch (its cache is always on since 2007). */
  mmu_cache: boolean;
  /** debugfs "kvm" (kvm_stat.ts); null when it could not be created or after exit. */
  debugfs_dir: dentry | null;
}

export const kvm_globals = (): kvm_module_globals =>
  module_data<kvm_module_globals>("kvm", () => {
    const kvm_lock = new spinlock_t();
    spin_lock_init(kvm_lock, "kvm_lock");
    return {
      kvm_lock, vm_list: [], misc: null, vmxarea: [], current_vmcs: [],
      enable_ept: param_value("kvm", "enable_ept") === true,
      mmu_cache: param_value("kvm", "mmu_cache") === true,
      debugfs_dir: null,
    };
  });

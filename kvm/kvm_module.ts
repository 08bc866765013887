// The kvm module as its loader sees it (module_init(vmx_init), module_exit(vmx_exit),
// MODULE_LICENSE("GPL")). The 2007 tree built it as kvm.ko and kvm-intel.ko; this
// model has one module, kvm, with the VMX backend inside.

import { MODULE } from "../compat/linux/module.js";
import { kvm_exit, kvm_init } from "./kvm_main.js";

export const kvm_module = MODULE({
  name: "kvm",
  license: "GPL",
  description: "Kernel-based Virtual Machine (Intel VT-x), API version 12",
  depends: [],
  params: [
    // module_param(enable_ept, bool, 0444)
    { name: "enable_ept", type: "bool", default: false, perm: 0o444, description: "Use two-dimensional paging (EPT) for VMs created while set" },
    // DIVERGENCE: Linux has no such switch; its shadow-page cache is always on.
    { name: "mmu_cache", type: "bool", default: true, perm: 0o444, description: "Keep shadow pages across guest CR3 loads (0: rebuild on every load)" },
  ],
  init: kvm_init,
  exit: kvm_exit,
});

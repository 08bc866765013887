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
  init: kvm_init,
  exit: kvm_exit,
});

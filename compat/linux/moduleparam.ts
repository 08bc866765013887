// include/linux/moduleparam.h: module parameters. A module declares them in its struct
// module (module_param(name, type, perm) + MODULE_PARM_DESC); the loader sets them
// before module_init runs:
//   host-linux:   insmod kvm enable_ept=1 (kernel/params.c parse_args)
//   host-freebsd: kenv compat.linuxkpi.kvm_enable_ept=1; kldload kvm (LinuxKPI turns a
//                 module_param into a tunable sysctl compat.linuxkpi.<module>_<name>)
// and the module reads the value in force with param_value.

import { linux_api } from "./export.js";
import type { kernel_param } from "./module_types.js";

export type { kernel_param };

/** The value of a module's parameter, as set at load time (or its default). */
export function param_value(module_name: string, name: string): boolean | number {
  return linux_api().module_param_value(module_name, name);
}

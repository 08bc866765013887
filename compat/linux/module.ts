// include/linux/module.h, include/linux/init.h: a module is described once
// (module_init/module_exit, MODULE_LICENSE, dependencies) and loaded by a kernel's
// loader: insmod on host-linux, kldload of a kld that wraps it on host-freebsd.

import { linux_api } from "./export.js";
import type { module } from "./module_types.js";

export type { module };

export function MODULE(def: module): module {
  return Object.freeze({ ...def, depends: [...def.depends] });
}

/** The loaded instance's static storage (what a C module keeps in .data/.bss). */
export const module_data = <T>(module_name: string, init: () => T): T => linux_api().module_data(module_name, init);

// Linux modules as FreeBSD klds (LinuxKPI: module_init/module_exit become
// SYSINIT/SYSUNINIT of the kld; the 2007 port: "three modules, explicit dependencies,
// exit functions on unload").
//   linux_kld(mod): a kld image whose MOD_LOAD runs module_init and whose MOD_UNLOAD
//   runs module_exit; it depends on linuxkpi and on the modules mod.depends names.
//   A module is in use while files whose fops.owner is the module are open
//   (try_module_get/module_put), and then refuses to unload (EBUSY).

import { curkernel } from "../../host-freebsd/sys/pcpu.js";
import { EBUSY, ENOENT } from "../../host-freebsd/sys/errno.js";
import { MOD_LOAD, MOD_QUIESCE, MOD_UNLOAD, MODULE_DEPEND } from "../../host-freebsd/kern/kern_module.js";
import { linker_kernel_symbol, type kld_image } from "../../host-freebsd/kern/kern_linker.js";
import { printf } from "../../host-freebsd/kern/subr_prf.js";
import type { module } from "../linux/module_types.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";
import { linux_to_bsd_errno } from "./linux_errno.js";

/** The symbol under which the linuxkpi kld publishes its state for the klds it wraps. */
export const LINUXKPI_SOFTC_SYMBOL = "linuxkpi_softc";

export function linux_try_module_get(s: linuxkpi_state, owner: module | null | undefined): boolean {
  if (owner === null || owner === undefined) return true;
  const inst = s.modules.get(owner.name);
  if (inst === undefined || inst.state === "MODULE_STATE_GOING") return false;
  inst.refcnt++;
  return true;
}

export function linux_module_put(s: linuxkpi_state, owner: module | null | undefined): void {
  if (owner === null || owner === undefined) return;
  const inst = s.modules.get(owner.name);
  if (inst !== undefined) inst.refcnt--;
}

/** module_data: the module's static storage, one instance per load. */
export function linux_module_data<T>(s: linuxkpi_state, name: string, init: () => T): T {
  if (!s.module_data.has(name)) s.module_data.set(name, init());
  return s.module_data.get(name) as T;
}

function softc(): linuxkpi_state | null {
  return (linker_kernel_symbol(curkernel(), LINUXKPI_SOFTC_SYMBOL) as linuxkpi_state | undefined) ?? null;
}

/** Wrap a Linux module (compat/linux/module_types.ts) into a kld image. */
export function linux_kld(mod: module): kld_image {
  return {
    name: mod.name,
    modules: [
      {
        version: 1,
        data: {
          name: mod.name,
          async evhand(_m, what) {
            const s = softc();
            if (s === null) return ENOENT;
            if (what === MOD_LOAD) {
              s.modules.set(mod.name, { mod, refcnt: 0, state: "MODULE_STATE_COMING" });
              const r = await mod.init();
              if (r < 0) {
                s.modules.delete(mod.name);
                s.module_data.delete(mod.name);
                printf(`${mod.name}: module_init failed with ${r}\n`);
                return linux_to_bsd_errno(-r);
              }
              s.modules.get(mod.name)!.state = "MODULE_STATE_LIVE";
              return 0;
            }
            const inst = s.modules.get(mod.name);
            if (inst === undefined) return 0;
            if (what === MOD_QUIESCE) return inst.refcnt > 0 || mod.exit === null ? EBUSY : 0;
            if (what === MOD_UNLOAD) {
              if (inst.refcnt > 0 || mod.exit === null) return EBUSY;
              inst.state = "MODULE_STATE_GOING";
              await mod.exit();
              s.modules.delete(mod.name);
              s.module_data.delete(mod.name);
            }
            return 0;
          },
        },
      },
    ],
    depends: [MODULE_DEPEND("linuxkpi", 1, 1, 1), ...mod.depends.map((d) => MODULE_DEPEND(d, 1, 1, 1))],
  };
}

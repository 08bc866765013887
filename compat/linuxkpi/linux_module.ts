// Linux modules as FreeBSD klds (LinuxKPI: module_init/module_exit become
// SYSINIT/SYSUNINIT of the kld; the 2007 port: "three modules, explicit dependencies,
// exit functions on unload").
//   linux_kld(mod): a kld image whose MOD_LOAD runs module_init and whose MOD_UNLOAD
//   runs module_exit; it depends on linuxkpi and on the modules mod.depends names.
//   A module is in use while files whose fops.owner is the module are open
//   (try_module_get/module_put), and then refuses to unload (EBUSY).

import { curkernel } from "../../host-freebsd/sys/pcpu.js";
import { EBUSY, EINVAL, ENOENT } from "../../host-freebsd/sys/errno.js";
import { getenv_int, kern_getenv } from "../../host-freebsd/kern/kern_environment.js";
import { sysctl_add_oid, sysctl_find_oid, sysctl_handle_64_proc, sysctl_remove_oid } from "../../host-freebsd/kern/kern_sysctl.js";
import { CTLFLAG_MPSAFE, CTLFLAG_RD, CTLTYPE_U64 } from "../../host-freebsd/sys/sysctl.js";
import { panic } from "../../host-freebsd/kern/kern_shutdown.js";
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

/** LinuxKPI's module_param: the tunable sysctl compat.linuxkpi.<module>_<name>
 *  (LINUXKPI_PARAM_PREFIX is the module name here). A kenv value that is not a number
 *  is reported as FreeBSD's tunable loader reports it, and the default stays. */
export const linux_param_sysctl_name = (mod: module, name: string): string => `${mod.name}_${name}`;

function linux_module_params(mod: module): Map<string, boolean | number> {
  const values = new Map<string, boolean | number>();
  const parent = sysctl_find_oid("compat.linuxkpi");
  for (const p of mod.params ?? []) {
    const oid_name = linux_param_sysctl_name(mod, p.name);
    const tunable = `compat.linuxkpi.${oid_name}`;
    let v: boolean | number = p.default;
    if (kern_getenv(tunable) !== null) {
      const n = getenv_int(tunable);
      if (n === null) printf(`Setting sysctl ${tunable} failed: ${EINVAL}\n`);
      else v = p.type === "bool" ? n !== 0 : n;
    }
    values.set(p.name, v);
    if (parent !== null) {
      const value = v;
      sysctl_add_oid(parent, oid_name, CTLTYPE_U64 | CTLFLAG_RD | CTLFLAG_MPSAFE, null, sysctl_handle_64_proc(async () => BigInt(Number(value)), null), p.description);
    }
  }
  return values;
}

function linux_module_params_remove(mod: module): void {
  for (const p of mod.params ?? []) {
    const oid = sysctl_find_oid(`compat.linuxkpi.${linux_param_sysctl_name(mod, p.name)}`);
    if (oid !== null) sysctl_remove_oid(oid);
  }
}

/** module_param_value: the value the module was loaded with. */
export function linux_module_param_value(s: linuxkpi_state, module_name: string, name: string): boolean | number {
  const inst = s.modules.get(module_name);
  if (inst === undefined) panic(`module_param: module ${module_name} is not loaded`);
  const v = inst.params.get(name);
  if (v === undefined) panic(`module_param: ${module_name} has no parameter ${name}`);
  return v;
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
              s.modules.set(mod.name, { mod, params: linux_module_params(mod), refcnt: 0, state: "MODULE_STATE_COMING" });
              const r = await mod.init();
              if (r < 0) {
                linux_module_params_remove(mod);
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
              linux_module_params_remove(mod);
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

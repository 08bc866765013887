// The linuxkpi kld (sys/modules/linuxkpi): loading it builds the shim's state for this
// kernel and exports the Linux API into the kernel's symbol table, so Linux modules
// wrapped by linux_kld (which MODULE_DEPEND on linuxkpi) link against it. It cannot be
// unloaded while a Linux module or misc device is still there.

import { curkernel } from "../../host-freebsd/sys/pcpu.js";
import { EBUSY } from "../../host-freebsd/sys/errno.js";
import { MOD_LOAD, MOD_QUIESCE, MOD_UNLOAD } from "../../host-freebsd/kern/kern_module.js";
import { linker_file_export_symbol, type kld_image } from "../../host-freebsd/kern/kern_linker.js";
import { printf } from "../../host-freebsd/kern/subr_prf.js";
import { LINUX_KERNEL_API_SYMBOL } from "../linux/export.js";
import { LINUXKPI_DEFAULT_CONFIG, type LinuxkpiConfig } from "./linux_config.js";
import { linuxkpi_state } from "./linuxkpi_state.js";
import { sysctl_add_node, sysctl_find_oid, sysctl_remove_oid } from "../../host-freebsd/kern/kern_sysctl.js";
import { linuxkpi_build_api } from "./linux_api.js";
import { LINUXKPI_SOFTC_SYMBOL } from "./linux_module.js";
import { linux_kfree_task_start, linux_kfree_task_stop } from "./linux_slab.js";
import { linux_current_set_static } from "./linux_current.js";

export { linux_kld } from "./linux_module.js";
export type { LinuxkpiConfig };

/** The linuxkpi kld image, with the preset it should use. */
export function linuxkpi_kld(config: Partial<LinuxkpiConfig> = {}): kld_image {
  const cfg: LinuxkpiConfig = { ...LINUXKPI_DEFAULT_CONFIG, ...config };
  return {
    name: "linuxkpi",
    modules: [
      {
        version: 1,
        data: {
          name: "linuxkpi",
          async evhand(mod, what) {
            const s = mod.file.symbols.get(LINUXKPI_SOFTC_SYMBOL) as linuxkpi_state | undefined;
            if (what === MOD_LOAD) {
              const st = new linuxkpi_state(curkernel(), cfg);
              linker_file_export_symbol(mod.file, LINUXKPI_SOFTC_SYMBOL, st);
              linker_file_export_symbol(mod.file, LINUX_KERNEL_API_SYMBOL, linuxkpi_build_api(st));
              linux_kfree_task_start(st);
              linux_current_set_static(curkernel(), cfg.current === "static");
              // linux_compat.c: SYSCTL_NODE(_compat, OID_AUTO, linuxkpi, ...), where
              // module parameters appear as tunable sysctls.
              st.sysctl_node = sysctl_add_node(sysctl_find_oid("compat")!, "linuxkpi", "LinuxKPI parameters");
              printf(`linuxkpi: Linux KPI loaded (get_cpu=${cfg.get_cpu}, spinlock=${cfg.spinlock}, mutex=${cfg.mutex}, current=${cfg.current ?? "per_thread"}, alloc_pages=${cfg.alloc_pages})\n`);
              return 0;
            }
            if (s === undefined) return 0;
            if (what === MOD_QUIESCE || what === MOD_UNLOAD) {
              if (s.modules.size > 0 || s.misc.size > 0) return EBUSY;
              if (what === MOD_UNLOAD) {
                await linux_kfree_task_stop(s);
                linux_current_set_static(curkernel(), false);
                if (s.sysctl_node !== null) sysctl_remove_oid(s.sysctl_node);
              }
            }
            return 0;
          },
        },
      },
    ],
    depends: [],
  };
}

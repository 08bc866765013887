// boot/ adapter for host-linux: boot the reference kernel, and load KVM the Linux way
// (insmod of the kvm module, which kvm/ declares with compat/linux's MODULE()).

import type { linux_kernel_api } from "../compat/linux/export.js";
import type { Machine } from "../machine/engine.js";
import { linux_boot } from "../host-linux/init/main.js";
import { kvm_module } from "../kvm/kvm_module.js";
import type { HostKernel } from "./host_kernel.js";

export function boot_linux(machine: Machine): HostKernel {
  const k = linux_boot(machine);
  // The reference kernel exports the Linux API natively; this assignment is the
  // compile-time proof that it is the API kvm/ was written against.
  const api: linux_kernel_api = k.api;
  void api;
  return {
    name: "linux",
    machine,
    start: (main) => k.start(main),
    load_kvm: (params = {}) => k.load_kvm(kvm_module, [], Object.entries(params).map(([n, v]) => `${n}=${v}`).join(" ")),
    unload_kvm: () => k.unload_kvm(kvm_module),
    run_process: (comm, program, stdout, stderr) => k.run_process(comm, program, stdout, stderr),
    run_processes: async (list) => {
      const pids: number[] = [];
      for (const x of list) {
        const pid = await k.spawn_process(x.comm, x.program, x.stdout, x.stderr);
        if (pid < 0) throw new Error(`run_processes ${x.comm}: fork failed (${pid})`);
        pids.push(pid);
      }
      const out = [];
      for (const pid of pids) out.push(await k.wait_process(pid));
      return out;
    },
    free_page_count: () => k.free_page_count(),
    dmesg: () => k.dmesg(),
  };
}

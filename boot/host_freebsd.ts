// boot/ adapter for host-freebsd: boot the FreeBSD kernel, and load KVM the way the
// 2007 port did: kvm.ko is the Linux module wrapped as a kld (module_init becomes its
// MOD_LOAD handler) that depends on linuxkpi.ko, the shim, which kldload brings in
// first and which exports the Linux API into the kernel's symbol table.

import { linux_kld, linuxkpi_kld } from "../compat/linuxkpi/linuxkpi_kld.js";
import { LINUX_KMOD_COMPAT_2007_CONFIG, type LinuxkpiConfig } from "../compat/linuxkpi/linux_config.js";
import type { Machine } from "../machine/engine.js";
import { freebsd_boot } from "../host-freebsd/kern/init_main.js";
import { kvm_module } from "../kvm/kvm_module.js";
import type { HostKernel, ProcessStatus } from "./host_kernel.js";
import { fork_exec } from "../host-freebsd/kern/kern_exec.js";
import { kern_wait } from "../host-freebsd/kern/kern_exit.js";
import { kern_setenv } from "../host-freebsd/kern/kern_environment.js";
import { EINVAL } from "../host-freebsd/sys/errno.js";

/** By default the shim makes the 2007 port's final choices (sched_pin for get_cpu, sleep
 *  mutexes, the registered-area copy for ioctl arguments, which KVM's variable-length
 *  MSR ioctls need); `compat` overrides them (e.g. today's LinuxKPI). */
export function boot_freebsd(machine: Machine, compat: Partial<LinuxkpiConfig> = {}): HostKernel {
  compat = { ...LINUX_KMOD_COMPAT_2007_CONFIG, ...compat };
  const k = freebsd_boot(machine);
  return {
    name: "freebsd",
    machine,
    start: (main) =>
      k.start(async () => {
        // The loader puts the module images in /boot/kernel; kldload finds them there.
        k.install_kld(linuxkpi_kld(compat));
        k.install_kld(linux_kld(kvm_module));
        await main();
      }),
    load_kvm: (params = {}) => {
      // kenv(1) before kldload: LinuxKPI reads module parameters as tunables.
      for (const [name, value] of Object.entries(params)) {
        if (kern_setenv(`compat.linuxkpi.kvm_${name}`, value, k.k) !== 0) return Promise.resolve(EINVAL);
      }
      return k.kldload("kvm");
    },
    // linuxkpi.ko was loaded as kvm.ko's dependency, so it leaves with it.
    unload_kvm: () => k.kldunload("kvm"),
    run_process: (comm, program, stdout, stderr) => k.run_process(comm, program, stdout, stderr),
    run_processes: async (list) => {
      const ps = list.map((x) => {
        const r = fork_exec(x.comm, x.program, x.stdout, x.stderr);
        if (r.error !== 0) throw new Error(`run_processes ${x.comm}: fork failed with ${r.error}`);
        return r.p!;
      });
      const out: ProcessStatus[] = [];
      for (const p of ps) {
        const w = (await kern_wait(p.p_pid)).p!;
        out.push(w.p_xsig !== 0 ? { exit_code: null, signal: w.p_xsig } : { exit_code: w.p_xexit, signal: null });
      }
      return out;
    },
    free_page_count: () => k.free_page_count(),
    dmesg: () => k.dmesg(),
  };
}

// kvm/ (written only against compat/linux) loaded into host-freebsd through linuxkpi,
// driven by the userspace clients built with FreeBSD's ABI.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Machine } from "../../machine/engine.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { freebsd_boot } from "../../host-freebsd/kern/init_main.js";
import { linuxkpi_kld, linux_kld } from "../../compat/linuxkpi/linuxkpi_kld.js";
import type { LinuxkpiConfig } from "../../compat/linuxkpi/linux_config.js";
import { kvm_module } from "../../kvm/kvm_module.js";
import { freebsd_abi } from "../../userspace/libc/abi_freebsd.js";
import { Libc } from "../../userspace/libc/libc.js";
import { lwn_main } from "../../userspace/examples/lwn.js";
import { vmm_main } from "../../userspace/vmm/vmm.js";
import { KVM_CREATE_VM, KVM_GET_MSR_INDEX_LIST } from "../../include/uapi/linux/kvm.js";

async function run_kvm_program(main: (c: Libc) => Promise<number>, opts: { seed?: number; cpus?: number; config?: Partial<LinuxkpiConfig> } = {}) {
  const machine = new Machine({ ncpus: opts.cpus ?? 2, ram_bytes: 64 << 20, seed: opts.seed ?? 1 });
  const kern = freebsd_boot(machine);
  const out = new CapturePipe();
  const err = new CapturePipe();
  const r: { load?: number; status?: unknown; leak?: number; unload?: number; unload_kpi?: number; api_gone?: boolean } = {};
  kern.start(async () => {
    kern.install_kld(linuxkpi_kld(opts.config ?? {}));
    kern.install_kld(linux_kld(kvm_module));
    r.load = await kern.kldload("kvm");
    const before = kern.free_page_count();
    r.status = await kern.run_process("lkvm", () => main(new Libc(freebsd_abi)), out, err);
    r.leak = before - kern.free_page_count();
    r.unload = await kern.kldunload("kvm");
    // linuxkpi came in as kvm's dependency, so it left with kvm.
    r.unload_kpi = await kern.kldunload("linuxkpi");
    r.api_gone = machine.kernel_symbols!("linux_kernel_api") === undefined;
  });
  await machine.run();
  return { ...r, stdout: out.text(), stderr: err.text(), dmesg: kern.dmesg() };
}

describe("kvm on host-freebsd through linuxkpi", () => {
  it('the LWN "Using the KVM API" client prints 4 and KVM_EXIT_HLT', async () => {
    const o = await run_kvm_program(lwn_main);
    expect({ stdout: o.stdout, stderr: o.stderr, status: o.status, load: o.load, leak: o.leak, unload: o.unload, unload_kpi: o.unload_kpi, api_gone: o.api_gone }).toEqual({
      stdout: "4\nKVM_EXIT_HLT\n", stderr: "", status: { exit_code: 0, signal: null }, load: 0, leak: 0, unload: 0, unload_kpi: 2, api_gone: true,
    });
  });

  it("the VMM runs the built-in real-mode guest", async () => {
    const hello = new Uint8Array(readFileSync(new URL("../../guests/hello-real/hello.bin", import.meta.url)));
    const o = await run_kvm_program((c) => vmm_main(c, { mem_mib: 16, images: [{ bytes: hello, gpa: 0x1000 }], entry: 0x1000 }));
    expect({ stdout: o.stdout, stderr: o.stderr, status: o.status, leak: o.leak }).toEqual({
      stdout: "Hello from a real-mode guest, run by lkvm.\nsum=0ed5\n", stderr: "", status: { exit_code: 0, signal: null }, leak: 0,
    });
  });

  it("works with LinuxKPI's own get_cpu (critical_enter) too", async () => {
    const o = await run_kvm_program(lwn_main, { config: { get_cpu: "critical_enter" } });
    expect(o.stdout + o.stderr).toBe("4\nKVM_EXIT_HLT\n");
  });

  // KVM_GET_MSR_INDEX_LIST writes its index array past the 4-byte header the command
  // declares: EFAULT behind LinuxKPI's fake address, the list with the 2007 port's
  // registered parameter areas.
  async function msr_index_list(c: Libc): Promise<number> {
    const kvm = await c.open("/dev/kvm", c.abi.O_RDWR);
    if ((await c.ioctl(kvm, KVM_CREATE_VM, 0)) < 0) return 100;
    const p = (await c.malloc(4 + 4 * 64))!;
    c.poke(p, new Uint8Array([64, 0, 0, 0]));
    const r = await c.ioctl(kvm, KVM_GET_MSR_INDEX_LIST, p);
    if (r < 0) await c.puts(1, `${c.errname()}\n`);
    else await c.puts(1, `nmsrs=${c.peek32(p)} first=0x${c.peek32((p + 4) as never).toString(16)}\n`);
    return 0;
  }

  it("KVM_GET_MSR_INDEX_LIST: EFAULT with the fake_address preset (LinuxKPI)", async () => {
    const o = await run_kvm_program(msr_index_list);
    expect(o.stdout).toBe("EFAULT\n");
    expect(o.leak).toBe(0);
  });

  it("KVM_GET_MSR_INDEX_LIST: the list with the registered_area preset (2007 port)", async () => {
    const o = await run_kvm_program(msr_index_list, { config: { ioctl_user_copy: "registered_area" } });
    expect(o.stdout).toMatch(/^nmsrs=\d+ first=0x[0-9a-f]+\n$/);
    expect(o.stdout).not.toMatch(/first=0x0\n/);
    expect(o.leak).toBe(0);
  });
});

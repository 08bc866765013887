// The VT-x rules the port's SMP problems turn on, checked on the machine alone.
import { describe, expect, it } from "vitest";
import { Context, Machine, current_cpu } from "../../machine/engine.js";
import { MachineCheck } from "../../machine/phys_mem.js";
import { CR4_VMXE } from "../../machine/x86/state.js";
import { VMCS, VMCS_REVISION_ID, VMXERR_VMLAUNCH_NONCLEAR_VMCS, VMXERR_VMRESUME_NONLAUNCHED_VMCS, VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID } from "../../machine/x86/vmcs_fields.js";

const VMXON0 = 0x10000, VMXON1 = 0x11000, VMCS_A = 0x12000;

/** Run `body` on a 2-CPU machine where both CPUs are in VMX operation. */
async function on_machine(body: (m: Machine, step: (cpu: number, f: () => void) => Promise<void>) => Promise<void>) {
  const m = new Machine({ ncpus: 2, ram_bytes: 1 << 20, seed: 1 });
  for (const a of [VMXON0, VMXON1, VMCS_A]) m.ram.write32(a as never, VMCS_REVISION_ID);
  let err: unknown = null;
  // cpu1 runs closures handed to it; cpu0 runs the test body.
  let work: { f: () => void; done: () => void } | null = null;
  let finished = false;
  m.boot_cpu(m.cpus[1], new Context("cpu1", async () => {
    current_cpu().x86.state.cr4 |= CR4_VMXE;
    current_cpu().vmx.vmxon(VMXON1 as never);
    while (!finished) {
      if (work) {
        const w = work;
        work = null;
        try { w.f(); } catch (e) { err = e; }
        w.done();
      }
      await m.cpu_yield();
    }
    m.cpu_throw(new Context("halt1", async () => void (await m.cpu_halt())));
  }));
  m.boot_cpu(m.cpus[0], new Context("cpu0", async () => {
    current_cpu().x86.state.cr4 |= CR4_VMXE;
    current_cpu().vmx.vmxon(VMXON0 as never);
    const step = async (cpu: number, f: () => void) => {
      if (cpu === 0) return f();
      let done = false;
      work = { f, done: () => (done = true) };
      while (!done) await m.cpu_yield();
      if (err) { const e = err; err = null; throw e; }
    };
    await body(m, step);
    finished = true;
    m.cpu_throw(new Context("halt0", async () => void (await m.cpu_halt())));
  }));
  await m.run();
}

describe("VT-x: a VMCS is active on one CPU", () => {
  it("VMPTRLD on a second CPU without VMCLEAR on the first is a machine check naming both", async () => {
    await on_machine(async (m, step) => {
      await step(0, () => expect(m.cpus[0].vmx.vmptrld(VMCS_A as never).ok).toBe(true));
      await expect(step(1, () => m.cpus[1].vmx.vmptrld(VMCS_A as never))).rejects.toThrow(/VMPTRLD on cpu1 of VMCS at 0x12000 still active on cpu0/);
    });
  });

  it("after VMCLEAR on the first CPU, the second may load it", async () => {
    await on_machine(async (m, step) => {
      await step(0, () => m.cpus[0].vmx.vmptrld(VMCS_A as never));
      await step(0, () => expect(m.cpus[0].vmx.vmclear(VMCS_A as never).ok).toBe(true));
      await step(1, () => expect(m.cpus[1].vmx.vmptrld(VMCS_A as never).ok).toBe(true));
    });
  });

  it("VMCLEAR from a CPU other than the one holding the VMCS is a machine check", async () => {
    await on_machine(async (m, step) => {
      await step(0, () => m.cpus[0].vmx.vmptrld(VMCS_A as never));
      await expect(step(1, () => m.cpus[1].vmx.vmclear(VMCS_A as never))).rejects.toBeInstanceOf(MachineCheck);
    });
  });

  it("VMRESUME before VMLAUNCH and VMLAUNCH of a launched VMCS fail with errors 5 and 4", async () => {
    await on_machine(async (m, step) => {
      await step(0, () => {
        const vmx = m.cpus[0].vmx;
        vmx.vmptrld(VMCS_A as never);
        const regs = { gpr: new Uint32Array(8), cr2: 0 };
        expect(vmx.enter(false, regs)).toEqual({ ok: false, invalid: false, error: VMXERR_VMRESUME_NONLAUNCHED_VMCS });
        expect(vmx.vmread(VMCS.VM_INSTRUCTION_ERROR).value).toBe(VMXERR_VMRESUME_NONLAUNCHED_VMCS);
        // A guest that halts at once: real mode, HLT exiting.
        m.ram.write8(0x0 as never, 0xf4);
        vmx.vmwrite(VMCS.CPU_BASED_VM_EXEC_CONTROL, 0x80);
        vmx.vmwrite(VMCS.GUEST_RFLAGS, 2);
        vmx.vmwrite(VMCS.GUEST_CS_AR_BYTES, 0x9b);
        vmx.vmwrite(VMCS.GUEST_CS_LIMIT, 0xffff);
        expect(vmx.enter(true, regs).ok).toBe(true);
        expect(vmx.vmread(VMCS.VM_EXIT_REASON).value).toBe(12);
        expect(vmx.enter(true, regs)).toEqual({ ok: false, invalid: false, error: VMXERR_VMLAUNCH_NONCLEAR_VMCS });
      });
    });
  });

  it("VMPTRLD of a region with the wrong revision id fails with error 11", async () => {
    await on_machine(async (m, step) => {
      await step(0, () => {
        m.ram.write32(0x13000 as never, 0x99);
        expect(m.cpus[0].vmx.vmptrld(0x13000 as never)).toEqual({ ok: false, invalid: false, error: VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID });
      });
    });
  });
});

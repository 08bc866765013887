// Runs for test/compat/port_stages.test.ts: one or several VMMs (userspace/vmm) on a
// FreeBSD host with a chosen compat preset, with optional busy processes beside them,
// reporting each process's output and status, or the simulated panic that stopped it.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CapturePipe } from "../../machine/host_pipe.js";
import { MachineStopped, run_world_many, type UserProcessSpec } from "../../boot/world.js";
import type { LinuxkpiConfig } from "../../compat/linuxkpi/linux_config.js";
import { freebsd_abi } from "../../userspace/libc/abi_freebsd.js";
import { Libc } from "../../userspace/libc/libc.js";
import { vmm_main } from "../../userspace/vmm/vmm.js";

const here = dirname(fileURLToPath(import.meta.url));
export const HELLO = readFileSync(join(here, "../../guests/hello-real/hello.bin"));

export interface ProcOutcome {
  stdout: string;
  stderr: string;
  exit_code: number | null;
  signal: number | null;
}

export type WorldOutcome =
  | { kind: "ran"; procs: ProcOutcome[]; leaked_pages: number; dmesg: string }
  | { kind: "stopped"; message: string; cpu: number; context: string };

/** A process that only makes system calls: competition for the CPUs. */
export function busy(rounds: number) {
  return async (c: Libc): Promise<number> => {
    for (let i = 0; i < rounds; i++) await c.getpid();
    return 0;
  };
}

/** A VMM running `image` in real mode at 0x1000. */
export function vmm(image: Uint8Array = HELLO) {
  return (c: Libc) => vmm_main(c, { mem_mib: 1, images: [{ bytes: image, gpa: 0x1000 }], entry: 0x1000 });
}

export async function run_many(
  compat: Partial<LinuxkpiConfig>,
  cpus: number,
  seed: number,
  programs: ((c: Libc) => Promise<number>)[],
): Promise<WorldOutcome> {
  const pipes = programs.map(() => ({ out: new CapturePipe(), err: new CapturePipe() }));
  const specs: UserProcessSpec[] = programs.map((main, i) => ({
    comm: `p${i}`,
    program: () => main(new Libc(freebsd_abi)),
    stdout: pipes[i].out,
    stderr: pipes[i].err,
  }));
  try {
    const r = await run_world_many({ host: "freebsd", cpus, ram_mib: 64, seed, compat }, specs);
    return {
      kind: "ran",
      procs: r.statuses.map((st, i) => ({ stdout: pipes[i].out.text(), stderr: pipes[i].err.text(), exit_code: st.exit_code, signal: st.signal })),
      leaked_pages: r.free_pages_before - r.free_pages_after,
      dmesg: r.kernel.dmesg(),
    };
  } catch (e) {
    if (e instanceof MachineStopped) {
      const reason = e.reason instanceof Error ? e.reason.message : String(e.reason);
      return { kind: "stopped", message: reason, cpu: e.cpu.id, context: e.context.name };
    }
    throw e;
  }
}

/** A real-mode guest that counts ecx down from `n` (long enough to span several host
 *  time slices, so the vcpu thread leaves its CPU between VM entries), then prints
 *  "ok\n" on COM1 and halts with interrupts off. */
export function spin_guest(n: number): Uint8Array {
  return new Uint8Array([
    0x66, 0xb9, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff, // mov ecx, n
    0x66, 0x49, // 1: dec ecx
    0x75, 0xfc, // jnz 1b
    0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xb0, 0x6f, 0xee, // mov al, 'o'; out dx, al
    0xb0, 0x6b, 0xee, // mov al, 'k'; out dx, al
    0xb0, 0x0a, 0xee, // mov al, '\n'; out dx, al
    0xfa, 0xf4, // cli; hlt
  ]);
}

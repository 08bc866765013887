// `lkvm run` on the port's stages, as docs/port/*.md show it: the 2007 snapshot's SMP
// crash is a panic report with a layered backtrace on stderr and exit status 70; the
// 2007 preset runs the same command to the end; both 2007 presets boot the built-in guest
// without mmap(2) of KVM's fds, and say so with -v. Runs the sources through vite-node, so
// no build is needed.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { spin_guest } from "../compat/port_stages_helpers.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VITE_NODE = join(ROOT, "node_modules/.bin/vite-node");
const SPIN = join(mkdtempSync(join(tmpdir(), "lkvm-")), "spin.bin");
writeFileSync(SPIN, spin_guest(3_000_000));

function lkvm(...args: string[]) {
  const r = spawnSync(VITE_NODE, [join(ROOT, "userspace/lkvm.ts"), "--", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SMP = ["run", "--raw", `${SPIN}@0x1000`, "--cpus", "2", "--busy", "20000,60000", "--seed", "1"];

describe("lkvm run --compat: the port's stages", () => {
  it("2007-snapshot, seed 1: a panic with the backtrace grouped by layer, exit status 70", () => {
    const r = lkvm(...SMP, "--compat", "2007-snapshot");
    expect(r.status).toBe(70);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^panic: fatal trap in system call 54 of lkvm: VmxInsnError: vmread\(0x[0-9a-f]+\) failed: VMfailInvalid\ncpuid = 1\n/);
    expect(r.stderr).toMatch(/backtrace, innermost first, by layer:\n {2}\[compat\]\n {4}#0 vmcs_readl at compat\/linux\/asm\/vmx\.ts:\d+/);
    const layers = [...r.stderr.matchAll(/^ {2}\[([a-z-]+)\]$/gm)].map((m) => m[1]);
    expect(layers).toEqual(["compat", "kvm", "compat", "host-freebsd", "userspace"]);
    expect(r.stderr).toMatch(/lkvm: the simulated freebsd kernel stopped on cpu1/);
  }, 120_000);

  it("2007 (sched_pin), seed 1: the guest prints ok, exit status 0", () => {
    expect(lkvm(...SMP, "--compat", "2007")).toEqual({ status: 0, stdout: "ok\n", stderr: "" });
  }, 120_000);

  const HELLO = "Hello from a real-mode guest, run by lkvm.\n" + "sum=0ed5\n";

  it.each(["2007-snapshot", "2007"])("%s boots the built-in guest; -v tells how kvm_run was mapped without mmap(2)", (preset) => {
    expect(lkvm("run", "--compat", preset, "--cpus", "1")).toEqual({ status: 0, stdout: HELLO, stderr: "" });
    const r = lkvm("run", "--compat", preset, "--cpus", "1", "-v");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(HELLO);
    expect(r.stderr).toMatch(/^lkvm: mmap\(vcpu fd\): ENODEV; mapping it with KVM_FREEBSD_MMAP, the 2007 port's ioctl$/m);
    expect(r.stderr).toMatch(/^kvm: KVM_FREEBSD_MMAP: 2 pages of the vcpu 0 fd at offset 0x0 mapped at 0x[0-9a-f]+$/m);
  }, 120_000);

  it("linuxkpi maps kvm_run with mmap(2): no such line", () => {
    const r = lkvm("run", "--compat", "linuxkpi", "--cpus", "1", "-v");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(HELLO);
    expect(r.stderr).not.toMatch(/KVM_FREEBSD_MMAP/);
  }, 120_000);
});

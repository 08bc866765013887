// kvm_stat's counters: per-VM directories and totals, through debugfs on host-linux and
// through the shim's sysctl OIDs (debug.kvm.*) on host-freebsd, read by a process with
// the libc of its host. Counters move as a known guest runs, totals are sums over live
// VMs, and every file goes with its VM and with the module.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { boot_host } from "../../boot/world.js";
import * as uapi from "../../include/uapi/linux/kvm.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { uva } from "../../machine/addr.js";
import { freebsd_abi } from "../../userspace/libc/abi_freebsd.js";
import { linux_abi } from "../../userspace/libc/abi_linux.js";
import { Libc } from "../../userspace/libc/libc.js";
import { Kvm, type VmFd } from "../../userspace/lib/kvm.js";
import { KVM_STAT_NAMES, kvm_stat_read, kvm_stat_read_all, kvm_stat_vm_dir, type KvmStatValues } from "../../userspace/lib/kvm_stat.js";
import { HOSTS } from "./harness.js";
import type { HostName } from "../../boot/world.js";

/** LWN's guest, with `outs` OUTs of a digit before the HLT. */
function guest(outs: number): Uint8Array {
  const b = [0xba, 0xf8, 0x03]; // mov $0x3f8, %dx
  for (let i = 0; i < outs; i++) b.push(0xb0, 0x30 + (i % 10), 0xee); // mov $'0'+i, %al; out %al, (%dx)
  b.push(0xf4); // hlt
  return Uint8Array.from(b);
}

/** A VM with one page of `code` at 0x1000 and one vcpu, run to its HLT. */
async function run_vm(c: Libc, kvm: Kvm, code: Uint8Array): Promise<VmFd> {
  const vm = await kvm.create_vm();
  const mem = await c.mmap(null, 0x1000, c.abi.PROT_READ | c.abi.PROT_WRITE, c.abi.MAP_SHARED | c.abi.MAP_ANON, -1, 0);
  if (mem === null) throw new Error("mmap");
  c.poke(mem, code);
  await vm.set_user_memory_region({ slot: 0, flags: 0, guest_phys_addr: 0x1000n, memory_size: 0x1000n, userspace_addr: BigInt(mem) });
  const vcpu = await vm.create_vcpu(0);
  const sregs = await vcpu.get_sregs();
  sregs.cs.base = 0n;
  sregs.cs.selector = 0;
  await vcpu.set_sregs(sregs);
  const regs = await vcpu.get_regs();
  regs.rip = 0x1000n;
  regs.rflags = 2n;
  await vcpu.set_regs(regs);
  for (;;) {
    await vcpu.kvm_run();
    const r = vcpu.exit_reason();
    if (r === uapi.KVM_EXIT_HLT) return vm;
    if (r !== uapi.KVM_EXIT_IO) throw new Error(`exit reason ${r}`);
    void uva;
  }
}

const zero = (): KvmStatValues => Object.fromEntries(KVM_STAT_NAMES.map((n) => [n, 0n]));

interface Seen {
  fresh_vm: KvmStatValues | null;
  vm1: KvmStatValues | null;
  vm2: KvmStatValues | null;
  total: KvmStatValues | null;
  dirs: string[];
  after_exit_total: KvmStatValues | null;
  after_exit_vm: (bigint | null)[];
  after_exit_errno: string;
  after_unload: bigint | null;
  after_unload_errno: string;
}

async function scenario(host: HostName, seed: number, mmu: "shadow" | "ept" = "shadow") {
  const kernel = await boot_host({ host, cpus: 2, ram_mib: 64, seed });
  const abi = host === "freebsd" ? freebsd_abi : linux_abi;
  const out = new CapturePipe();
  const err = new CapturePipe();
  const seen: Partial<Seen> = {};
  let pages: { before: number; after: number } | null = null;
  let failure: unknown = null;
  kernel.start(async () => {
    try {
      const before = kernel.free_page_count();
      expect(await kernel.load_kvm({ enable_ept: mmu === "ept" ? "1" : "0" })).toBe(0);
      const st1 = await kernel.run_process("vmm", async () => {
        const c = new Libc(abi);
        const kvm = await Kvm.open(c);
        const fresh = await kvm.create_vm();
        seen.fresh_vm = await kvm_stat_read_all(c, await kvm_stat_vm_dir(c, fresh.fd));
        await fresh.close(); // no vcpu holds it: the VM and its directory go now
        const vm1 = await run_vm(c, kvm, guest(2));
        const vm2 = await run_vm(c, kvm, guest(5));
        const d1 = await kvm_stat_vm_dir(c, vm1.fd);
        const d2 = await kvm_stat_vm_dir(c, vm2.fd);
        seen.dirs = [d1, d2];
        seen.vm1 = await kvm_stat_read_all(c, d1);
        seen.vm2 = await kvm_stat_read_all(c, d2);
        seen.total = await kvm_stat_read_all(c, null);
        return 0;
      }, out, err);
      expect(st1).toEqual({ exit_code: 0, signal: null });
      await kernel.run_process("kvm_stat", async () => {
        const c = new Libc(abi);
        seen.after_exit_total = await kvm_stat_read_all(c, null);
        seen.after_exit_vm = [];
        for (const d of seen.dirs!) seen.after_exit_vm.push(await kvm_stat_read(c, d, "exits"));
        seen.after_exit_errno = c.errname();
        return 0;
      }, out, err);
      expect(await kernel.unload_kvm()).toBe(0);
      await kernel.run_process("kvm_stat", async () => {
        const c = new Libc(abi);
        seen.after_unload = await kvm_stat_read(c, null, "exits");
        seen.after_unload_errno = c.errname();
        return 0;
      }, out, err);
      pages = { before, after: kernel.free_page_count() };
    } catch (e) {
      failure = e;
    }
  });
  await kernel.machine.run();
  if (failure !== null) throw failure;
  return { seen: seen as Seen, pages: pages!, stdout: out.text(), stderr: err.text(), dmesg: kernel.dmesg() };
}

describe.each(HOSTS)("kvm statistics on %s", (host) => {
  it.each(["shadow", "ept"] as const)("count the guest's exits per VM and in total, and go with the VM and the module (%s paging)", async (mmu) => {
    const r = await scenario(host, 1, mmu);
    expect(r.stderr).toBe("");
    const s = r.seen;
    // A VM that never ran: all zero, readable.
    expect(s.fresh_vm).toEqual(zero());
    // LWN's guest: 2 OUTs and a HLT; the other 5 OUTs.
    expect(s.vm1!.io_exits).toBe(2n);
    expect(s.vm1!.halt_exits).toBe(1n);
    expect(s.vm2!.io_exits).toBe(5n);
    expect(s.vm2!.halt_exits).toBe(1n);
    for (const v of [s.vm1!, s.vm2!]) {
      expect(v.exits).toBeGreaterThanOrEqual(v.io_exits + v.halt_exits);
      expect(v.mmio_exits).toBe(0n);
      expect(v.signal_exits).toBe(0n);
    }
    // Totals are the sum over live VMs (the fresh one is gone).
    for (const n of KVM_STAT_NAMES) expect(s.total![n]).toBe(s.vm1![n] + s.vm2![n]);
    // Per-VM directories are "<pid>-<fd>"; distinct.
    expect(s.dirs[0]).toMatch(/^\d+-\d+$/);
    expect(s.dirs[0]).not.toBe(s.dirs[1]);
    // After the VMM exits its VMs are destroyed: totals over no VM are 0, directories gone.
    expect(s.after_exit_total).toEqual(zero());
    expect(s.after_exit_vm).toEqual([null, null]);
    expect(s.after_exit_errno).toBe("ENOENT");
    // After kvm is unloaded, nothing is left.
    expect(s.after_unload).toBeNull();
    expect(s.after_unload_errno).toBe("ENOENT");
    expect(r.pages.after).toBe(r.pages.before);
  });

  it.each([1, 2, 3, 4])("a kvm_stat process reading the totals while a VMM runs sees them only grow, then go to 0 (seed %i)", async (seed) => {
    const kernel = await boot_host({ host, cpus: 2, ram_mib: 64, seed });
    const abi = host === "freebsd" ? freebsd_abi : linux_abi;
    const readings: bigint[] = [];
    let last_vm: KvmStatValues | null = null;
    let failure: unknown = null;
    let statuses: unknown = null;
    kernel.start(async () => {
      try {
        expect(await kernel.load_kvm()).toBe(0);
        let vmm_done = false;
        statuses = await kernel.run_processes([
          {
            comm: "vmm", stdout: new CapturePipe(), stderr: new CapturePipe(),
            program: async () => {
              const c = new Libc(abi);
              const vm = await run_vm(c, await Kvm.open(c), guest(300));
              last_vm = await kvm_stat_read_all(c, await kvm_stat_vm_dir(c, vm.fd));
              vmm_done = true;
              return 0;
            },
          },
          {
            comm: "kvm_stat", stdout: new CapturePipe(), stderr: new CapturePipe(),
            program: async () => {
              const c = new Libc(abi);
              for (let i = 0; i < 400 && !(vmm_done && readings.at(-1) === 0n); i++) {
                const v = await kvm_stat_read(c, null, "io_exits");
                if (v === null) return 1;
                readings.push(v);
              }
              return 0;
            },
          },
        ]);
        expect(await kernel.unload_kvm()).toBe(0);
      } catch (e) {
        failure = e;
      }
    });
    await kernel.machine.run();
    if (failure !== null) throw failure;
    expect(statuses).toEqual([{ exit_code: 0, signal: null }, { exit_code: 0, signal: null }]);
    expect(last_vm!.io_exits).toBe(300n);
    // Non-decreasing while the VM lives; once it is gone, 0.
    let drop = readings.findIndex((v, i) => i > 0 && v < readings[i - 1]);
    if (drop < 0) drop = readings.length;
    for (let i = 1; i < drop; i++) expect(readings[i]).toBeGreaterThanOrEqual(readings[i - 1]);
    for (const v of readings.slice(drop)) expect(v).toBe(0n);
    expect(readings.some((v) => v > 0n && v < 300n)).toBe(true); // it did read while the guest ran
    expect(readings.at(-1)).toBe(0n);
  });
});

// --- lkvm stat, the built command ----------------------------------------------------------

const BIN = fileURLToPath(new URL("../../dist/userspace/lkvm.js", import.meta.url));
const GUESTS = fileURLToPath(new URL("../../guests/", import.meta.url));

function lkvm(...args: string[]) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The sections of lkvm stat's table: title -> name -> value. */
function parse_table(text: string): Map<string, Map<string, bigint>> {
  const out = new Map<string, Map<string, bigint>>();
  let cur: Map<string, bigint> | null = null;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^  (\w+) +(\d+)$/.exec(line);
    if (m === null) out.set(line, (cur = new Map()));
    else cur!.set(m[1], BigInt(m[2]));
  }
  return out;
}

const HELLO = "Hello from a real-mode guest, run by lkvm.\nsum=0ed5\n";

describe("lkvm stat", () => {
  it.each(HOSTS)("--host %s: the guest's output, then its VM's counters and the totals, sorted, the same every run", (host) => {
    const r = lkvm("stat", "--host", host);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith(HELLO)).toBe(true);
    const table = r.stdout.slice(HELLO.length);
    const sec = parse_table(table);
    const titles = [...sec.keys()];
    expect(titles).toHaveLength(2);
    expect(titles[0]).toMatch(host === "freebsd" ? /^vm 1\d{5}-4$/ : /^vm \d+-4$/);
    expect(titles[1]).toBe("total");
    const vm = sec.get(titles[0])!;
    expect([...vm.keys()]).toEqual([...KVM_STAT_NAMES].sort());
    // One VM: the totals are its counters.
    expect(sec.get("total")).toEqual(vm);
    // The built-in guest prints 53 bytes through the 8250, polling LSR before each
    // (an IN and an OUT per byte), then writes isa-debug-exit... and halts once.
    expect(vm.get("halt_exits")).toBe(1n);
    expect(vm.get("io_exits")! % 2n).toBe(0n);
    expect(vm.get("io_exits")!).toBeGreaterThanOrEqual(2n * BigInt(HELLO.length));
    expect(vm.get("exits")!).toBeGreaterThanOrEqual(vm.get("io_exits")! + vm.get("halt_exits")!);
    expect(vm.get("mmio_exits")).toBe(0n);
    // kvm_stat -1 layout: two-space indent, names padded to one column, values right-aligned.
    for (const line of table.split("\n").filter((l) => l.startsWith("  "))) {
      expect(line).toHaveLength(2 + "request_irq_exits".length + 2 + 10);
      expect(line).toMatch(/^  [a-z_]+ +\d+$/);
    }
    expect(lkvm("stat", "--host", host)).toEqual(r);
  });

  it("the counters are the same on both hosts", () => {
    const f = parse_table(lkvm("stat", "--host", "freebsd").stdout.slice(HELLO.length));
    const l = parse_table(lkvm("stat", "--host", "linux").stdout.slice(HELLO.length));
    expect(f.get("total")).toEqual(l.get("total"));
  });

  it("--kernel runs a multiboot guest and keeps its exit status", () => {
    const dir = `${GUESTS}crc32/`;
    const r = lkvm("stat", "--host", "freebsd", "--kernel", `${dir}crc32.elf`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(Number(readFileSync(`${dir}expected.status`, "utf8").trim()));
    const expected = readFileSync(`${dir}expected.stdout`, "utf8");
    expect(r.stdout.startsWith(expected)).toBe(true);
    const sec = parse_table(r.stdout.slice(expected.length));
    const total = sec.get("total")!;
    expect(total.get("pf_fixed")!).toBeGreaterThan(0n);
    expect(total.get("exits")!).toBeGreaterThan(total.get("io_exits")!);
  });

  it("usage errors are status 2 with nothing on stdout", () => {
    for (const args of [["stat", "--append", "x"], ["stat", "--host", "solaris"], ["stat", "--kernel", "/nonexistent.elf"]]) {
      const r = lkvm(...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout, args.join(" ")).toBe("");
    }
  });
});

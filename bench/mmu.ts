// Shadow paging against two-dimensional paging (EPT) on the same guest: bench/aspace,
// which switches among 8 address spaces 320 times and touches 16 pages in each. Under
// the shadow MMU every MOV to CR3 exits and every page the guest then touches faults
// into kvm; under EPT the guest's CR3 writes and page walks are its own, and kvm only
// fills guest-physical mappings once.
//
// Shadow paging runs twice: with the shadow-page cache (module parameter mmu_cache=1, the
// default: shadow pages kept across CR3 loads, keyed by guest table) and without it
// (mmu_cache=0: every CR3 load drops every shadow page, the 2006 driver's behaviour); the
// reuse rate is the share of shadow-page lookups the cache answered (hits / (hits +
// pages created)).
//
// For each MMU and host it boots a host, loads kvm (enable_ept off or on), runs the VMM
// on the guest, and prints the VM's kvm_stat counters (read from the VM's struct kvm,
// as debugfs/sysctl export them), the simulated cycles (TSC of the busiest CPU: the
// model charges a cycle per guest instruction and little for host work, so it shows
// that both MMUs run the same guest, not what an exit costs) and the wall time of the
// VMM process (median of the runs, after one warm-up run), then the shadow/EPT ratios.
//
//   npm run build && node dist/bench/mmu.js [runs] [host]     (or: npm run bench:mmu)

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { boot_host, type HostName } from "../boot/world.js";
import { CapturePipe } from "../machine/host_pipe.js";
import { kvm_globals } from "../kvm/kvm_globals.js";
import type { kvm, kvm_stat_counters } from "../kvm/kvm_host.js";
import { freebsd_abi } from "../userspace/libc/abi_freebsd.js";
import { linux_abi } from "../userspace/libc/abi_linux.js";
import { Libc } from "../userspace/libc/libc.js";
import { vmm_main } from "../userspace/vmm/vmm.js";

const guest = new Uint8Array(readFileSync(new URL("../../bench/aspace/aspace.bin", import.meta.url)));
const EXPECTED = "aspace sum=00018600\n";

type Mmu = "shadow" | "shadow-nocache" | "ept";

interface RunResult {
  stdout: string;
  stat: kvm_stat_counters;
  cache: { hit: number; miss: number; zapped: number; pte_write: number };
  cycles: number;
  wall_ms: number;
}

async function run_once(host: HostName, mmu: Mmu, seed: number): Promise<RunResult> {
  const kernel = await boot_host({ host, cpus: 2, ram_mib: 64, seed, mmu: mmu === "ept" ? "ept" : "shadow" });
  const out = new CapturePipe();
  const err = new CapturePipe();
  let result: RunResult | null = null;
  let failure: Error | null = null;
  kernel.start(async () => {
    // insmod kvm enable_ept=... mmu_cache=... (kenv tunables on FreeBSD).
    const e = await kernel.load_kvm({ enable_ept: mmu === "ept" ? "1" : "0", mmu_cache: mmu === "shadow-nocache" ? "0" : "1" });
    if (e !== 0) { failure = new Error(`load_kvm: ${e}`); return; }
    const g = kvm_globals();
    // The VM's counters outlive it: keep a reference to its struct kvm when it joins vm_list.
    const vms: kvm[] = [];
    const push = g.vm_list.push.bind(g.vm_list);
    g.vm_list.push = (...v: kvm[]) => { vms.push(...v); return push(...v); };
    const tsc0 = Math.max(...kernel.machine.cpus.map((c) => c.tsc));
    const t0 = performance.now();
    const abi = host === "freebsd" ? freebsd_abi : linux_abi;
    const st = await kernel.run_process("lkvm", () => vmm_main(new Libc(abi), { mem_mib: 8, images: [{ bytes: guest, gpa: 0x1000 }], entry: 0x1000 }), out, err);
    const wall_ms = performance.now() - t0;
    const cycles = Math.max(...kernel.machine.cpus.map((c) => c.tsc)) - tsc0;
    await kernel.unload_kvm();
    if (st.exit_code !== 0 || vms.length !== 1) { failure = new Error(`vmm: ${JSON.stringify(st)} ${err.text()}`); return; }
    const cache = vms[0].mmu_cache_stat ?? { hit: 0, miss: 0, zapped: 0, pte_write: 0 };
    result = { stdout: out.text(), stat: { ...vms[0].stat }, cache: { ...cache }, cycles, wall_ms };
  });
  await kernel.machine.run();
  if (failure !== null) throw failure;
  if (result === null) throw new Error("the run did not finish");
  return result;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const hosts = (process.argv[3] ? [process.argv[3]] : ["linux"]) as HostName[];
  for (const host of hosts) {
    const summary = new Map<Mmu, { exits: number; pf_fixed: number; cycles: number; wall_ms: number }>();
    for (const mmu of ["shadow", "shadow-nocache", "ept"] as Mmu[]) {
      await run_once(host, mmu, 1); // warm the JIT up; not counted
      const rs: RunResult[] = [];
      for (let i = 0; i < runs; i++) rs.push(await run_once(host, mmu, 1 + i));
      for (const r of rs) if (r.stdout !== EXPECTED) throw new Error(`${mmu}: guest printed ${JSON.stringify(r.stdout)}`);
      const s = rs[0].stat;
      const cs = rs[0].cache;
      const wall = median(rs.map((r) => r.wall_ms));
      summary.set(mmu, { exits: s.exits, pf_fixed: s.pf_fixed, cycles: rs[0].cycles, wall_ms: wall });
      console.log(
        `${host} ${mmu.padEnd(14)} exits ${String(s.exits).padStart(6)}  pf_fixed ${String(s.pf_fixed).padStart(6)}  pf_guest ${s.pf_guest}  ` +
          `tlb_flush ${String(s.tlb_flush).padStart(5)}  io_exits ${s.io_exits}  irq_exits ${s.irq_exits}  ` +
          `cycles ${String(rs[0].cycles).padStart(9)}  time/run ${wall.toFixed(1)} ms (median of ${runs})` +
          (mmu === "ept" ? "" : `\n${host} ${mmu.padEnd(14)} shadow pages: created ${cs.miss}  reused ${cs.hit}  ` +
            `reuse rate ${cs.hit + cs.miss === 0 ? "-" : ((100 * cs.hit) / (cs.hit + cs.miss)).toFixed(1) + "%"}  zapped ${cs.zapped}  pte_write ${cs.pte_write}  mmu_flooded ${s.mmu_flooded}`),
      );
    }
    const ratio = (x: number, y: number) => (y === 0 ? "inf" : (x / y).toFixed(2));
    const b = summary.get("ept")!;
    for (const m of ["shadow", "shadow-nocache"] as Mmu[]) {
      const a = summary.get(m)!;
      console.log(
        `${host} ${m}/ept: exits ${ratio(a.exits, b.exits)}x  pf_fixed ${ratio(a.pf_fixed, b.pf_fixed)}x  ` +
          `cycles ${ratio(a.cycles, b.cycles)}x  time ${ratio(a.wall_ms, b.wall_ms)}x`,
      );
    }
    const on = summary.get("shadow")!, off = summary.get("shadow-nocache")!;
    console.log(`${host} cache off/on: exits ${ratio(off.exits, on.exits)}x  pf_fixed ${ratio(off.pf_fixed, on.pf_fixed)}x  time ${ratio(off.wall_ms, on.wall_ms)}x`);
  }
}

await main();

// CPU benchmark: one guest workload (guests/sieve: the sieve of Eratosthenes below 2e6,
// `reps` rounds, chosen on the multiboot command line) on
//   - this project's interpreter, on the bare machine (boot/bare.ts, what `lkvm run --bare` runs),
//   - the v86 package's interpreter and its x86-to-wasm JIT, in this process (V86 with
//     `multiboot`, headless: no screen, serial output by event),
//   - qemu-system-i386 (TCG) when it is installed, as a subprocess.
// It prints guest MIPS for each and the ratios to this interpreter.
//
// Instruction counts: the guest is deterministic, so it retires the same instructions on
// every correct CPU. lkvm and v86 count them (insns_retired, get_instruction_counter());
// QEMU does not, and it is so much faster that it runs more rounds (--qemu-reps, default
// 200): its time is the difference of a 1-round and a Q-round run, which cancels QEMU's
// start-up and SeaBIOS, and its instruction count is lkvm's for the same rounds: every
// round retires the same instructions, so lkvm's counts for 1 and N rounds give them.
// Times are wall-clock; nothing here is asserted.
// Usage: node dist/bench/cpu.js [--reps N] [--qemu-reps Q]

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { run_bare } from "../boot/bare.js";
import { CapturePipe } from "../machine/host_pipe.js";
import { load_multiboot } from "../userspace/vmm/loader/multiboot.js";

const MEM_MIB = 32;
/** The project root (where package.json is), whether this runs from dist/bench or bench/. */
function root(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json"))) {
    if (dirname(d) === d) throw new Error("cannot find the project root");
    d = dirname(d);
  }
  return d;
}
const KERNEL = join(root(), "guests/sieve/sieve.elf");
const V86_TIMEOUT_MS = 600_000;

interface Result {
  engine: string;
  insns: number;
  seconds: number;
  stdout?: string;
  note?: string;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} wants a positive integer`);
  return v;
}

function run_lkvm(kernel: Uint8Array, reps: number): Result {
  const g = load_multiboot(kernel, { mem_mib: MEM_MIB, cmdline: `reps=${reps}` });
  const stdout = new CapturePipe();
  const t0 = process.hrtime.bigint();
  const r = run_bare({ mem_mib: MEM_MIB, images: g.images, entry_state: g.entry, stdout });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.end !== "debug_exit") throw new Error(`lkvm: the guest ended by ${r.end}, status ${r.exit_status}`);
  return { engine: "lkvm interpreter (--bare)", insns: r.insns, seconds, stdout: stdout.text() };
}

/** v86 ends a multiboot guest's write to port 0xF4 by throwing the string "HALT" out of its
 *  main loop (its test-harness exit port); that is the end of the run. */
async function run_v86(kernel: Uint8Array, reps: number, jit: boolean): Promise<Result> {
  const engine = jit ? "v86 JIT (x86 to wasm)" : "v86 interpreter";
  let V86: typeof import("v86").V86;
  try {
    ({ V86 } = await import("v86"));
  } catch (e) {
    return { engine, insns: 0, seconds: 0, note: `cannot load the v86 package: ${(e as Error).message} (npm install: it is a devDependency)` };
  }
  const wasm_path = createRequire(import.meta.url).resolve("v86/build/v86.wasm");
  const buffer = kernel.buffer.slice(kernel.byteOffset, kernel.byteOffset + kernel.byteLength) as ArrayBuffer;
  return new Promise<Result>((resolve) => {
    let out = "";
    let t0 = 0n;
    const log = console.log;
    const emu = new V86({ wasm_path, memory_size: MEM_MIB << 20, multiboot: { buffer }, cmdline: `reps=${reps}`, autostart: true, disable_jit: !jit });
    const finish = (res: Result) => {
      clearTimeout(timer);
      process.off("uncaughtException", on_throw);
      console.log = log;
      void emu.destroy().catch(() => {});
      resolve(res);
    };
    const on_throw = (e: unknown) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (e === "HALT") finish({ engine, insns: emu.get_instruction_counter(), seconds, stdout: out });
      else finish({ engine, insns: 0, seconds: 0, note: `v86 threw: ${String(e)}` });
    };
    process.on("uncaughtException", on_throw);
    // v86 reports the exit port on console.log ("Test exited with code 0x00"): keep it off the table.
    console.log = (...a: unknown[]) => {
      if (typeof a[0] === "string" && a[0].startsWith("Test exited with code")) return;
      log(...a);
    };
    const timer = setTimeout(() => finish({ engine, insns: 0, seconds: 0, note: `no exit within ${V86_TIMEOUT_MS / 1000} s` }), V86_TIMEOUT_MS);
    emu.add_listener("emulator-started", () => { t0 = process.hrtime.bigint(); });
    emu.add_listener("serial0-output-byte", (b: number) => { out += String.fromCharCode(b); });
  });
}

function qemu_time(reps: number): { seconds: number; stdout: string } | string {
  const args = ["-accel", "tcg", "-cpu", "pentium3", "-m", String(MEM_MIB), "-display", "none", "-nodefaults", "-no-reboot",
    "-chardev", "stdio,id=out,mux=on", "-serial", "chardev:out", "-device", "isa-debugcon,iobase=0xe9,chardev=out",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", KERNEL, "-append", `reps=${reps}`];
  const t0 = process.hrtime.bigint();
  const r = spawnSync("qemu-system-i386", args, { encoding: "latin1", timeout: 600_000, stdio: ["ignore", "pipe", "pipe"] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error !== undefined) return (r.error as NodeJS.ErrnoException).code === "ENOENT" ? "qemu-system-i386 is not installed" : r.error.message;
  if (r.status !== 1) return `qemu-system-i386 exited with status ${r.status}: ${r.stderr.trim()}`;
  return { seconds, stdout: r.stdout };
}

function fmt(n: number, w: number, d = 0): string {
  return n.toFixed(d).padStart(w);
}

async function main(): Promise<void> {
  const reps = arg("--reps", 8);
  const qemu_reps = arg("--qemu-reps", 200);
  const kernel = new Uint8Array(readFileSync(KERNEL));
  console.log(`guest: guests/sieve/sieve.elf, reps=${reps}, ${MEM_MIB} MiB; node ${process.version}`);

  const base1 = run_lkvm(kernel, 1);
  const ours = run_lkvm(kernel, reps);
  const results: Result[] = [ours];
  for (const jit of [false, true]) results.push(await run_v86(kernel, reps, jit));

  const q1 = qemu_time(1);
  const qn = qemu_time(qemu_reps);
  const qengine = `qemu-system-i386 (TCG, reps ${qemu_reps} - reps 1)`;
  if (typeof q1 === "string" || typeof qn === "string") {
    results.push({ engine: "qemu-system-i386 (TCG)", insns: 0, seconds: 0, note: typeof q1 === "string" ? q1 : (qn as string) });
  } else if (reps < 2 || qemu_reps < 2) {
    results.push({ engine: qengine, insns: 0, seconds: 0, note: "needs --reps and --qemu-reps of 2 or more (timed as a difference)" });
  } else if (qn.seconds <= q1.seconds) {
    results.push({ engine: qengine, insns: 0, seconds: 0, note: `too short to time (${qn.seconds.toFixed(2)} s vs ${q1.seconds.toFixed(2)} s): raise --qemu-reps` });
  } else {
    const per_round = (ours.insns - base1.insns) / (reps - 1);
    const insns = per_round * (qemu_reps - 1);
    const expect_line = `sieve below 2000000, ${qemu_reps} round(s)`;
    results.push({ engine: qengine, insns, seconds: qn.seconds - q1.seconds,
      note: qn.stdout.startsWith(expect_line) ? `start-up and SeaBIOS ${q1.seconds.toFixed(2)} s not counted` : "its output is not the sieve's!" });
  }

  const ours_mips = ours.insns / ours.seconds / 1e6;
  console.log(`${"engine".padEnd(44)} ${"instructions".padStart(13)} ${"seconds".padStart(8)} ${"MIPS".padStart(8)} ${"x lkvm".padStart(7)}`);
  for (const r of results) {
    if (r.insns === 0) {
      console.log(`${r.engine.padEnd(44)} not run: ${r.note}`);
      continue;
    }
    const mips = r.insns / r.seconds / 1e6;
    let line = `${r.engine.padEnd(44)} ${fmt(r.insns, 13)} ${fmt(r.seconds, 8, 2)} ${fmt(mips, 8, 1)} ${fmt(mips / ours_mips, 7, 2)}`;
    if (r.stdout !== undefined && r.stdout !== ours.stdout) line += "  (its output differs from lkvm's!)";
    else if (r.note !== undefined) line += `  (${r.note})`;
    console.log(line);
  }
}

await main();

// The lkvm command. It is the one place outside the simulation: it reads files and
// flags, boots a simulated host (boot/world.ts), and runs the VMM as a process of that
// host. Guest serial output goes to stdout and nothing else does; diagnostics go to
// stderr. Exit status: the VMM's (isa-debug-exit gives (value << 1) | 1), 128 + signal
// when the VMM was killed, 2 for a usage error, 70 for a simulated kernel panic.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { run_sst } from "../boot/sst.js";
import { MachineStopped, run_world, run_world_many, type HostName, type WorldConfig } from "../boot/world.js";
import type { HostPipe } from "../machine/host_pipe.js";
import { lwn_main } from "./examples/lwn.js";
import type { OsAbi } from "./libc/abi.js";
import { freebsd_abi } from "./libc/abi_freebsd.js";
import { linux_abi } from "./libc/abi_linux.js";
import { Libc } from "./libc/libc.js";
import { vmm_main, type VmmConfig } from "./vmm/vmm.js";
import { run_bare_async } from "../boot/bare.js";
import { format_panic_report } from "../boot/panic_report.js";
import { LINUXKPI_DEFAULT_CONFIG, LINUXKPI_TODAY_CONFIG, LINUX_KMOD_COMPAT_2007_CONFIG, LINUX_KMOD_COMPAT_2007_SNAPSHOT_CONFIG, type LinuxkpiConfig } from "../compat/linuxkpi/linux_config.js";
import { FirmwareError, load_firmware } from "./vmm/loader/firmware.js";
import { MultibootError, load_multiboot } from "./vmm/loader/multiboot.js";
import { real_mode_entry } from "./vmm/vmm.js";
import { kvm_stat_report } from "./lib/kvm_stat.js";

const EXIT_USAGE = 2;
const EXIT_PANIC = 70;

class UsageError extends Error {}

const here = dirname(fileURLToPath(import.meta.url));
/** guests/ of the package, from dist/userspace/ or from userspace/ under ts-node. */
function guest_path(rel: string): string {
  for (const up of ["../..", ".."]) {
    const p = join(here, up, "guests", rel);
    try {
      readFileSync(p);
      return p;
    } catch {
      /* try the next layout */
    }
  }
  throw new Error(`built-in guest ${rel} not found next to ${here}`);
}

const stdout_pipe: HostPipe = { write: (b) => void process.stdout.write(b) };
const stderr_pipe: HostPipe = { write: (b) => void process.stderr.write(b) };

function int_arg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

const host_option = () =>
  new Option("--host <host>", "host kernel the VMM runs on").choices(["freebsd", "linux"]).default("freebsd");
const abi_of = (host: HostName): OsAbi => (host === "freebsd" ? freebsd_abi : linux_abi);

interface WorldOpts {
  host: HostName;
  cpus: number;
  seed: number;
  mmu?: "shadow" | "ept";
  compat?: string;
  verbose?: boolean;
}

/** --compat: the shim's choices on the FreeBSD host, as named presets. */
const COMPAT_PRESETS: Record<string, LinuxkpiConfig> = {
  "2007-snapshot": LINUX_KMOD_COMPAT_2007_SNAPSHOT_CONFIG,
  "2007": LINUX_KMOD_COMPAT_2007_CONFIG,
  linuxkpi: LINUXKPI_TODAY_CONFIG,
  default: LINUXKPI_DEFAULT_CONFIG,
};

/** --busy: a process that only makes `rounds` system calls, competing for the CPUs. */
const busy_program = (rounds: number) => async (c: Libc): Promise<number> => {
  for (let i = 0; i < rounds; i++) await c.getpid();
  return 0;
};

async function run_program(opts: WorldOpts, ram_mib: number, comm: string, main: (c: Libc) => Promise<number>, busy: readonly number[] = [], copies = 1): Promise<number> {
  const cfg: WorldConfig = {
    host: opts.host, cpus: opts.cpus, ram_mib, seed: opts.seed, mmu: opts.mmu,
    compat: opts.compat === undefined ? undefined : COMPAT_PRESETS[opts.compat],
  };
  if (opts.verbose) process.stderr.write(`lkvm: booting ${opts.host} host, ${opts.cpus} CPUs, ${ram_mib} MiB, seed ${opts.seed}\n`);
  try {
    const abi = abi_of(opts.host);
    const r =
      busy.length === 0 && copies === 1
        ? await run_world(cfg, comm, () => main(new Libc(abi)), stdout_pipe, stderr_pipe)
        : await run_world_many(cfg, [
            ...Array.from({ length: copies }, () => ({ comm, program: () => main(new Libc(abi)), stdout: stdout_pipe, stderr: stderr_pipe })),
            ...busy.map((n, i) => ({ comm: `busy${i}`, program: () => busy_program(n)(new Libc(abi)), stdout: stdout_pipe, stderr: stderr_pipe })),
          ]).then((m) => ({ ...m, status: m.statuses.slice(0, copies).find((st) => st.exit_code !== 0) ?? m.statuses[0] }));
    if (opts.verbose) {
      process.stderr.write(r.kernel.dmesg());
      process.stderr.write(`lkvm: free pages ${r.free_pages_before} before, ${r.free_pages_after} after\n`);
    }
    if (r.free_pages_after !== r.free_pages_before)
      process.stderr.write(`lkvm: warning: ${r.free_pages_before - r.free_pages_after} pages leaked by the run\n`);
    if (r.status.signal !== null) return 128 + r.status.signal;
    return r.status.exit_code ?? 1;
  } catch (e) {
    if (e instanceof MachineStopped) {
      process.stderr.write(format_panic_report(e, opts.host));
      return EXIT_PANIC;
    }
    throw e;
  }
}

/** "N,N,..." */
function parse_busy(v: string): number[] {
  const ns = v.split(",").map((x) => Number(x));
  if (ns.length === 0 || ns.some((n) => !Number.isInteger(n) || n < 0 || n > 10_000_000)) throw new InvalidArgumentError("--busy takes system call counts, e.g. 20000,60000");
  return ns;
}

/** "FILE@GPA" */
function parse_raw(v: string): { file: string; gpa: number } {
  const at = v.lastIndexOf("@");
  if (at <= 0) throw new InvalidArgumentError("expected FILE@GPA, e.g. guest.bin@0x1000");
  const gpa = int_arg("GPA", 0, 0xfffff)(v.slice(at + 1));
  return { file: v.slice(0, at), gpa };
}

function read_image(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function build_cli(set_status: (n: number) => void): Command {
  const program = new Command("lkvm")
    .description("Linux KVM ported to a simulated FreeBSD through a Linux compatibility shim, running real x86 guests")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  program
    .command("run")
    .description("boot a host, load KVM, and run a guest (by default the built-in real-mode guest)")
    .addOption(host_option())
    .option("--mem <MiB>", "guest RAM in MiB", int_arg("--mem", 1, 3072), 128)
    .option("--cpus <n>", "host CPUs", int_arg("--cpus", 1, 64), 2)
    .option("--seed <n>", "seed of the simulated machine's scheduling", int_arg("--seed", 0, 0xffffffff), 1)
    .option("--raw <FILE@GPA>", "load a flat real-mode image at a guest-physical address", parse_raw)
    .option("--entry <GPA>", "guest-physical entry point (real mode)", int_arg("--entry", 0, 0xfffff))
    .option("--kernel <FILE>", "boot a multiboot v1 ELF kernel, as QEMU's -kernel does")
    .option("--append <CMDLINE>", "the kernel command line (with --kernel)")
    .option("--bios <FILE>", "map a firmware image below 1 MiB and below 4 GiB and start at the reset vector")
    .option("--bare", "run the guest directly on the simulated machine: no host kernel, no hypervisor")
    .addOption(new Option("--mmu <mmu>", "how kvm virtualizes guest memory").choices(["shadow", "ept"]).default("shadow"))
    .addOption(new Option("--compat <preset>", "the shim's choices on the FreeBSD host").choices(Object.keys(COMPAT_PRESETS)).default("2007"))
    .option("--vms <n>", "run n VMMs at once, each its own process with its own VM (their output interleaves)", int_arg("--vms", 1, 8), 1)
    .option("--busy <ROUNDS,...>", "beside the VMM, one process per number that makes that many system calls (CPU competition)", parse_busy)
    .option("-v, --verbose", "print the kernel log and memory accounting on stderr")
    .exitOverride()
    .action(async (o: WorldOpts & { mem: number; raw?: { file: string; gpa: number }; entry?: number; kernel?: string; append?: string; bios?: string; bare?: boolean; busy?: number[]; vms: number }) => {
      const sources = [o.raw, o.kernel, o.bios].filter((x) => x !== undefined).length;
      if (sources > 1) throw new UsageError("--raw, --kernel and --bios exclude each other");
      if (o.entry !== undefined && o.raw === undefined) throw new UsageError("--entry needs --raw");
      if (o.append !== undefined && o.kernel === undefined) throw new UsageError("--append needs --kernel");
      let loaded: { images: VmmConfig["images"]; entry: VmmConfig["entry"] };
      try {
        if (o.kernel !== undefined) loaded = load_multiboot(read_image(o.kernel), { mem_mib: o.mem, cmdline: o.append });
        else if (o.bios !== undefined) loaded = load_firmware(read_image(o.bios), { mem_mib: o.mem });
        else if (o.raw !== undefined) loaded = { images: [{ bytes: read_image(o.raw.file), gpa: o.raw.gpa }], entry: o.entry ?? o.raw.gpa };
        else loaded = { images: [{ bytes: read_image(guest_path("hello-real/hello.bin")), gpa: 0x1000 }], entry: 0x1000 };
      } catch (e) {
        if (e instanceof MultibootError || e instanceof FirmwareError) throw new UsageError(e.message);
        throw e;
      }
      if (o.bare) {
        const entry_state = typeof loaded.entry === "number" ? real_mode_entry(loaded.entry) : loaded.entry;
        const r = await run_bare_async({ mem_mib: o.mem, images: loaded.images, entry_state, stdout: stdout_pipe, stderr: stderr_pipe });
        if (o.verbose) process.stderr.write(`lkvm: --bare: ${r.insns} instructions, ended by ${r.end}\n`);
        set_status(r.exit_status);
        return;
      }
      const cfg: VmmConfig = { mem_mib: o.mem, images: loaded.images, entry: loaded.entry, verbose: o.verbose };
      const ram_mib = Math.max(256, 2 * o.mem + 64);
      set_status(await run_program(o, ram_mib, "lkvm", (c) => vmm_main(c, cfg), o.busy, o.vms));
    });

  const example = program.command("example").description("run a reference KVM client").exitOverride();
  example
    .command("lwn")
    .description('the client of LWN\'s "Using the KVM API": prints 4 and KVM_EXIT_HLT')
    .addOption(host_option())
    .option("--cpus <n>", "host CPUs", int_arg("--cpus", 1, 64), 2)
    .option("--seed <n>", "seed of the simulated machine's scheduling", int_arg("--seed", 0, 0xffffffff), 1)
    .option("-v, --verbose", "print the kernel log on stderr")
    .exitOverride()
    .action(async (o: WorldOpts) => {
      set_status(await run_program(o, 64, "lwn", lwn_main));
    });

  program
    .command("stat")
    .description("run a guest (by default the built-in one) and print kvm's statistics for its VM and in total, as kvm_stat -1 does")
    .addOption(host_option())
    .option("--mem <MiB>", "guest RAM in MiB", int_arg("--mem", 1, 3072), 128)
    .option("--cpus <n>", "host CPUs", int_arg("--cpus", 1, 64), 2)
    .option("--seed <n>", "seed of the simulated machine's scheduling", int_arg("--seed", 0, 0xffffffff), 1)
    .option("--kernel <FILE>", "boot a multiboot v1 ELF kernel instead of the built-in guest")
    .option("--append <CMDLINE>", "the kernel command line (with --kernel)")
    .addOption(new Option("--mmu <mmu>", "how kvm virtualizes guest memory").choices(["shadow", "ept"]).default("shadow"))
    .option("-v, --verbose", "print the kernel log and memory accounting on stderr")
    .exitOverride()
    .action(async (o: WorldOpts & { mem: number; kernel?: string; append?: string }) => {
      // The guest's own output comes first on stdout, then the table; the VMM reads the
      // counters after the guest ends, while its VM still exists.
      if (o.append !== undefined && o.kernel === undefined) throw new UsageError("--append needs --kernel");
      let loaded: { images: VmmConfig["images"]; entry: VmmConfig["entry"] };
      try {
        if (o.kernel !== undefined) loaded = load_multiboot(read_image(o.kernel), { mem_mib: o.mem, cmdline: o.append });
        else loaded = { images: [{ bytes: read_image(guest_path("hello-real/hello.bin")), gpa: 0x1000 }], entry: 0x1000 };
      } catch (e) {
        if (e instanceof MultibootError) throw new UsageError(e.message);
        throw e;
      }
      let stat_status = 0;
      const cfg: VmmConfig = {
        mem_mib: o.mem, images: loaded.images, entry: loaded.entry, verbose: o.verbose,
        after_run: async (c, vm_fd) => void (stat_status = await kvm_stat_report(c, vm_fd)),
      };
      const status = await run_program(o, Math.max(256, 2 * o.mem + 64), "lkvm", (c) => vmm_main(c, cfg));
      set_status(stat_status !== 0 && status === 0 ? stat_status : status);
    });

  program
    .command("sst")
    .argument("<dir>", "directory of SingleStepTests JSON files (and its metadata.json)")
    .description("run single-instruction test vectors on the bare simulated CPU")
    .exitOverride()
    .action((dir: string) => {
      const r = run_sst(dir, (line) => process.stdout.write(line + "\n"));
      set_status(r.failed === 0 ? 0 : 1);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const cli = build_cli((n) => (status = n));
  if (argv.length === 0) {
    // No command is a usage error: the help goes to stderr, status 2 (--help is 0).
    process.stderr.write(cli.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await cli.parseAsync(argv, { from: "user" });
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version") return 0;
      return EXIT_USAGE; // commander already printed its one-line error
    }
    if (e instanceof UsageError) {
      process.stderr.write(`lkvm: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}


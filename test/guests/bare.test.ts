// Every guest under guests/ with a QEMU reference (expected.stdout, expected.status,
// recorded by scripts/record-qemu.sh from qemu-system-i386 7.2, TCG, -cpu pentium3, 32 MiB)
// runs on the bare simulated machine (`lkvm run --bare`): its stdout must equal QEMU's
// byte for byte, and its exit status QEMU's.

import { describe, expect, it } from "vitest";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run_bare_async } from "../../boot/bare.js";
import { CapturePipe } from "../../machine/host_pipe.js";
import { load_multiboot } from "../../userspace/vmm/loader/multiboot.js";
import { load_firmware } from "../../userspace/vmm/loader/firmware.js";

const GUESTS = fileURLToPath(new URL("../../guests/", import.meta.url));
const MEM_MIB = 32; // record-qemu.sh runs QEMU with -m 32

/** Guests whose comparison is known to fail, with the reason; each is skipped, not hidden. */
const KNOWN_FAILURES: Record<string, string> = {};

interface Guest {
  name: string;
  kind: "kernel" | "bios";
  file: string;
  cmdline?: string;
  stdout: Buffer;
  status: number;
}

function guests(): Guest[] {
  const out: Guest[] = [];
  for (const name of readdirSync(GUESTS).sort()) {
    const dir = join(GUESTS, name);
    if (!existsSync(join(dir, "expected.status"))) continue;
    const elf = join(dir, `${name}.elf`), rom = join(dir, `${name}.rom`);
    const cmd = join(dir, "cmdline");
    out.push({
      name,
      kind: existsSync(elf) ? "kernel" : "bios",
      file: existsSync(elf) ? elf : rom,
      cmdline: existsSync(cmd) ? readFileSync(cmd, "utf8").trim() : undefined,
      stdout: readFileSync(join(dir, "expected.stdout")),
      status: Number(readFileSync(join(dir, "expected.status"), "utf8").trim()),
    });
  }
  return out;
}

const all = guests();

describe("guests under --bare match QEMU", () => {
  it("finds every guest guests.json lists, and no other", () => {
    const manifest = JSON.parse(readFileSync(join(GUESTS, "guests.json"), "utf8")) as { guests: { name: string; kind: string }[] };
    expect(all.map((g) => `${g.name}:${g.kind}`).sort()).toEqual(manifest.guests.map((g) => `${g.name}:${g.kind}`).sort());
  });

  it("finds the guests", () => {
    expect(all.map((g) => g.name)).toEqual(expect.arrayContaining([
      "bios-real", "cr3switch", "crc32", "debugregs", "divmul", "exceptions", "isa", "mbinfo", "pae", "paging", "recursion", "sieve", "smc", "sort",
      "triple-fault",
    ]));
  });

  for (const g of all) {
    const reason = KNOWN_FAILURES[g.name];
    const title = `${g.name} (${g.kind}): stdout and exit status`;
    if (reason !== undefined) {
      it.skip(`${title} — skipped: ${reason}`, () => {});
      continue;
    }
    it(title, async () => {
      const bytes = new Uint8Array(readFileSync(g.file));
      const loaded = g.kind === "kernel" ? load_multiboot(bytes, { mem_mib: MEM_MIB, cmdline: g.cmdline }) : load_firmware(bytes, { mem_mib: MEM_MIB });
      const stdout = new CapturePipe();
      const stderr = new CapturePipe();
      const r = await run_bare_async({ mem_mib: MEM_MIB, images: loaded.images, entry_state: loaded.entry, stdout, stderr, max_insns: 500_000_000 });
      expect(new TextDecoder().decode(stdout.bytes())).toBe(g.stdout.toString("latin1"));
      expect(Buffer.from(stdout.bytes()).equals(g.stdout)).toBe(true);
      expect(r.exit_status).toBe(g.status);
      if (r.end === "triple_fault") expect(stderr.text()).toBe("lkvm: guest shutdown (triple fault)\n");
      else expect(stderr.text()).toBe("");
    }, 300_000);
  }
});

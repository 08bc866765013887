// The guests with a QEMU reference (guests/*/expected.stdout and expected.status,
// recorded by scripts/record-qemu.sh from qemu-system-i386), loaded as `lkvm run` loads
// them (--kernel for multiboot ELF, --bios for firmware).

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { load_firmware } from "../../userspace/vmm/loader/firmware.js";
import { load_multiboot } from "../../userspace/vmm/loader/multiboot.js";
import type { LoadedGuest } from "../../userspace/vmm/loader/entry_state.js";

export const GUESTS = fileURLToPath(new URL("../../guests/", import.meta.url));
/** record-qemu.sh runs QEMU with -m 32. */
export const MEM_MIB = 32;

export interface RecordedGuest {
  name: string;
  kind: "kernel" | "bios";
  load(): LoadedGuest;
  stdout: string;
  status: number;
}

export function recorded_guests(): RecordedGuest[] {
  const out: RecordedGuest[] = [];
  for (const name of readdirSync(GUESTS).sort()) {
    const dir = join(GUESTS, name);
    if (!existsSync(join(dir, "expected.status"))) continue;
    const elf = join(dir, `${name}.elf`);
    const kind = existsSync(elf) ? "kernel" : "bios";
    const file = kind === "kernel" ? elf : join(dir, `${name}.rom`);
    const cmd = join(dir, "cmdline");
    const cmdline = existsSync(cmd) ? readFileSync(cmd, "utf8").trim() : undefined;
    out.push({
      name,
      kind,
      load: () => {
        const bytes = new Uint8Array(readFileSync(file));
        return kind === "kernel" ? load_multiboot(bytes, { mem_mib: MEM_MIB, cmdline }) : load_firmware(bytes, { mem_mib: MEM_MIB });
      },
      stdout: readFileSync(join(dir, "expected.stdout"), "latin1"),
      status: Number(readFileSync(join(dir, "expected.status"), "utf8").trim()),
    });
  }
  return out;
}

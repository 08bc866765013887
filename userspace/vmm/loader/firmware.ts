// Firmware loader for `--bios FILE`, as QEMU's pc.bios (hw/i386/x86.c, x86_bios_rom_init):
// the image is ROM mapped twice,
//   - so that it ends at 4 GiB (the reset vector 0xFFFFFFF0 is its last 16 bytes), and
//   - its last 128 KiB (all of it if smaller) so that they end at 1 MiB (the "isa-bios"
//     alias at 0xE0000-0xFFFFF that real-mode code reaches as segment F000),
// and the CPU starts from the architectural reset state (SDM Vol. 3A 9.1.1): real mode,
// CS selector 0xF000 with base 0xFFFF0000, EIP 0xFFF0, the other segments 0 with 64 KiB
// limits, EFLAGS 2, CR0 0x60000010 (CD, NW, ET), EDX = the CPU signature (CPUID.1:EAX,
// which only the CPU knows: the starter fills it in; 0 here).
// As QEMU does, the size must be a multiple of 64 KiB, and at most 16 MiB.
//
// For the VMM: the 1 MiB alias lies in the RAM slot at gpa 0 (copy it there); the 4 GiB
// alias needs a second memory slot (KVM_SET_USER_MEMORY_REGION slot 1, guest_phys_addr =
// 2^32 - size, KVM_MEM_READONLY where the API has it) backed by a copy of the image.
// Pure code: it returns images and a register state.

import {
  CR0_CD, CR0_ET, CR0_NW, EFLAGS_RESERVED_1, real_mode_segment, reset_ldt, reset_tr, zero_regs, type LoadedGuest,
} from "./entry_state.js";

export const BIOS_SIZE_ALIGN = 64 * 1024;
export const BIOS_MAX_SIZE = 16 * 1024 * 1024;
export const ISA_BIOS_MAX = 128 * 1024;
export const ISA_BIOS_END = 0x100000;
export const RESET_CS_SELECTOR = 0xf000;
export const RESET_CS_BASE = 0xffff0000;
export const RESET_IP = 0xfff0;

export class FirmwareError extends Error {
  constructor(message: string) {
    super(`bios: ${message}`);
    this.name = "FirmwareError";
  }
}

export function load_firmware(image: Uint8Array, opts: { mem_mib: number }): LoadedGuest {
  const n = image.length;
  if (n === 0 || n % BIOS_SIZE_ALIGN !== 0) throw new FirmwareError(`image of ${n} bytes: the size must be a non-zero multiple of 64 KiB`);
  if (n > BIOS_MAX_SIZE) throw new FirmwareError(`image of ${n} bytes is larger than ${BIOS_MAX_SIZE}`);
  if (opts.mem_mib < 1) throw new FirmwareError(`guest RAM of ${opts.mem_mib} MiB cannot hold the 1 MiB alias`);
  const isa = Math.min(n, ISA_BIOS_MAX);
  const regs = zero_regs();
  regs.eip = RESET_IP;
  regs.eflags = EFLAGS_RESERVED_1;
  const cs = real_mode_segment(RESET_CS_SELECTOR, true);
  cs.base = RESET_CS_BASE;
  return {
    images: [
      { bytes: image.slice(n - isa), gpa: ISA_BIOS_END - isa, rom: true },
      { bytes: image.slice(), gpa: 2 ** 32 - n, rom: true },
    ],
    entry: {
      regs,
      sregs: {
        cs,
        ds: real_mode_segment(0),
        es: real_mode_segment(0),
        fs: real_mode_segment(0),
        gs: real_mode_segment(0),
        ss: real_mode_segment(0),
        tr: reset_tr(),
        ldt: reset_ldt(),
        gdt: { base: 0, limit: 0xffff },
        idt: { base: 0, limit: 0xffff },
        cr0: (CR0_CD | CR0_NW | CR0_ET) >>> 0,
        cr2: 0,
        cr3: 0,
        cr4: 0,
      },
    },
  };
}

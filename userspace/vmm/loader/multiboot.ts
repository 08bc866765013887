// Multiboot v1 loader (the Multiboot Specification 0.6.96; names as in its multiboot.h),
// for ELF32 kernels, doing what QEMU's -kernel does for them (hw/i386/multiboot.c):
//
//   - the multiboot header is a 4-byte-aligned {magic 0x1BADB002, flags, checksum} within
//     the first 8 KiB (MULTIBOOT_SEARCH) with magic + flags + checksum = 0 (mod 2^32);
//   - each PT_LOAD segment is copied to guest-physical p_paddr, p_filesz bytes from the
//     file and zeroes up to p_memsz;
//   - the multiboot_info block goes on the first page boundary after the highest segment,
//     followed by the command line and the boot loader name;
//   - the CPU starts in 32-bit protected mode with paging off, CS = 0x08 and DS = ES = FS =
//     GS = SS = 0x10 (the selectors QEMU's multiboot option ROM leaves), all flat 4 GiB,
//     EAX = 0x2BADB002, EBX = the multiboot_info address, EIP = e_entry, EFLAGS.IF = 0.
//
// mem_lower = 640 and mem_upper = RAM/1024 - 1024, the values QEMU's multiboot.c writes.
// DIVERGENCE: under QEMU its multiboot option ROM then overwrites them from the BIOS
// (INT 12h and E820), so a guest under QEMU with SeaBIOS sees mem_lower = 639 and
// mem_upper 128 KiB less (SeaBIOS reserves the EBDA and the top of RAM); with no BIOS in
// the way there is nothing to reserve, so this loader keeps multiboot.c's values.
// QEMU's GDTR points into its option ROM; this loader places an equivalent GDT (null,
// 0x08 code, 0x10 data) after the multiboot_info so reloading those selectors works.
// The spec leaves ESP undefined; this loader sets it to 0x7000 (free conventional memory).
// Pure code: it reads bytes and returns images and a register state, nothing else.

import { elf32_ehdr, elf32_phdrs, ElfError, PT_LOAD } from "./elf32.js";
import {
  CR0_ET, CR0_PE, EFLAGS_RESERVED_1, flat_segment, reset_ldt, reset_tr, zero_regs, type GuestImage, type LoadedGuest,
} from "./entry_state.js";

export const MULTIBOOT_SEARCH = 8192;
export const MULTIBOOT_HEADER_ALIGN = 4;
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

// Flags in the multiboot header. Bits 0-15 are requirements: a loader that cannot meet
// one must refuse the kernel.
export const MULTIBOOT_PAGE_ALIGN = 0x00000001;
export const MULTIBOOT_MEMORY_INFO = 0x00000002;
export const MULTIBOOT_VIDEO_MODE = 0x00000004;
export const MULTIBOOT_AOUT_KLUDGE = 0x00010000;

// Flags in multiboot_info.
export const MULTIBOOT_INFO_MEMORY = 0x00000001;
export const MULTIBOOT_INFO_CMDLINE = 0x00000004;
export const MULTIBOOT_INFO_BOOT_LOADER_NAME = 0x00000200;

/** struct multiboot_info: byte offsets of its fields (multiboot.h) and its size. */
export const multiboot_info = {
  flags: 0,
  mem_lower: 4,
  mem_upper: 8,
  boot_device: 12,
  cmdline: 16,
  mods_count: 20,
  mods_addr: 24,
  syms: 28, // 16 bytes: aout_sym or elf_sec
  mmap_length: 44,
  mmap_addr: 48,
  drives_length: 52,
  drives_addr: 56,
  config_table: 60,
  boot_loader_name: 64,
  apm_table: 68,
  vbe_control_info: 72,
  vbe_mode_info: 76,
  vbe_mode: 80,
  vbe_interface_seg: 82,
  vbe_interface_off: 84,
  vbe_interface_len: 86,
  SIZE: 88,
} as const;

/** struct multiboot_header's fields (offsets from the magic). */
export interface MultibootHeader {
  /** File offset of the header. */
  offset: number;
  magic: number;
  flags: number;
  checksum: number;
}

export interface MultibootOptions {
  /** Guest RAM in MiB, at guest-physical 0. */
  mem_mib: number;
  /** The kernel command line (multiboot_info.cmdline); none if undefined. */
  cmdline?: string;
}

export class MultibootError extends Error {
  constructor(message: string) {
    super(`multiboot: ${message}`);
    this.name = "MultibootError";
  }
}

export const MULTIBOOT_KERNEL_CS = 0x08;
export const MULTIBOOT_KERNEL_DS = 0x10;
/** Initial ESP (the specification leaves it undefined). */
export const MULTIBOOT_INITIAL_ESP = 0x7000;
const PAGE = 4096;
const BOOT_LOADER_NAME = "lkvm";

/** Find the multiboot header: 4-byte aligned in the first 8 KiB, checksum valid. */
export function find_multiboot_header(file: Uint8Array): MultibootHeader | null {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const end = Math.min(MULTIBOOT_SEARCH, file.length) - 12;
  for (let o = 0; o <= end; o += MULTIBOOT_HEADER_ALIGN) {
    if (v.getUint32(o, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = v.getUint32(o + 4, true);
    const checksum = v.getUint32(o + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) continue;
    return { offset: o, magic: MULTIBOOT_HEADER_MAGIC, flags, checksum };
  }
  return null;
}

/** Load a multiboot v1 ELF32 kernel: the memory images and the entry state. */
export function load_multiboot(file: Uint8Array, opts: MultibootOptions): LoadedGuest {
  const ram = opts.mem_mib * 1024 * 1024;
  if (!Number.isInteger(opts.mem_mib) || opts.mem_mib < 2 || ram > 0xfec00000)
    throw new MultibootError(`guest RAM of ${opts.mem_mib} MiB: need at least 2 MiB and less than the 4 GiB hole`);
  const mh = find_multiboot_header(file);
  if (mh === null) throw new MultibootError(`no multiboot header (magic 0x1BADB002 with a valid checksum) in the first ${MULTIBOOT_SEARCH} bytes`);
  if ((mh.flags & MULTIBOOT_AOUT_KLUDGE) !== 0)
    throw new MultibootError("MULTIBOOT_AOUT_KLUDGE (flag bit 16, load addresses in the header) is not supported: link the kernel as ELF");
  if ((mh.flags & MULTIBOOT_VIDEO_MODE) !== 0)
    throw new MultibootError("MULTIBOOT_VIDEO_MODE (flag bit 2) requested: this machine has no video device");
  const unknown = mh.flags & 0xfff8;
  if (unknown !== 0) throw new MultibootError(`required flag bits 0x${unknown.toString(16)} are not defined by the specification`);

  let ehdr;
  try {
    ehdr = elf32_ehdr(file);
  } catch (e) {
    if (e instanceof ElfError) throw new MultibootError(`${e.message} (only ELF32 i386 kernels are supported)`);
    throw e;
  }
  const images: GuestImage[] = [];
  let high = 0;
  for (const ph of elf32_phdrs(file, ehdr)) {
    if (ph.p_type !== PT_LOAD || ph.p_memsz === 0) continue;
    if (ph.p_filesz > ph.p_memsz) throw new MultibootError(`segment at 0x${ph.p_paddr.toString(16)}: p_filesz > p_memsz`);
    if (ph.p_offset + ph.p_filesz > file.length) throw new MultibootError(`segment at 0x${ph.p_paddr.toString(16)} lies beyond the end of the file`);
    if (ph.p_paddr + ph.p_memsz > ram)
      throw new MultibootError(`segment at 0x${ph.p_paddr.toString(16)} (0x${ph.p_memsz.toString(16)} bytes) does not fit in ${opts.mem_mib} MiB of RAM`);
    const bytes = new Uint8Array(ph.p_memsz);
    bytes.set(file.subarray(ph.p_offset, ph.p_offset + ph.p_filesz));
    for (const other of images)
      if (ph.p_paddr < other.gpa + other.bytes.length && other.gpa < ph.p_paddr + ph.p_memsz)
        throw new MultibootError(`segments at 0x${other.gpa.toString(16)} and 0x${ph.p_paddr.toString(16)} overlap`);
    images.push({ bytes, gpa: ph.p_paddr });
    high = Math.max(high, ph.p_paddr + ph.p_memsz);
  }
  if (images.length === 0) throw new MultibootError("no PT_LOAD segment");

  // The boot information: multiboot_info, then a GDT, the command line and the loader name.
  const mbi_addr = Math.ceil(high / PAGE) * PAGE;
  const gdt_off = multiboot_info.SIZE;
  const gdt_size = 3 * 8;
  const enc = new TextEncoder();
  const cmdline = opts.cmdline === undefined ? null : enc.encode(opts.cmdline + "\0");
  const name = enc.encode(BOOT_LOADER_NAME + "\0");
  const cmdline_off = gdt_off + gdt_size;
  const name_off = cmdline_off + (cmdline?.length ?? 0);
  const info = new Uint8Array(name_off + name.length);
  if (mbi_addr + info.length > ram) throw new MultibootError(`no room for the multiboot_info after the kernel in ${opts.mem_mib} MiB`);
  const v = new DataView(info.buffer);
  let flags = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_BOOT_LOADER_NAME;
  v.setUint32(multiboot_info.mem_lower, 640, true);
  v.setUint32(multiboot_info.mem_upper, ram / 1024 - 1024, true);
  if (cmdline !== null) {
    flags |= MULTIBOOT_INFO_CMDLINE;
    info.set(cmdline, cmdline_off);
    v.setUint32(multiboot_info.cmdline, mbi_addr + cmdline_off, true);
  }
  info.set(name, name_off);
  v.setUint32(multiboot_info.boot_loader_name, mbi_addr + name_off, true);
  v.setUint32(multiboot_info.flags, flags, true);
  // GDT: null; 0x08 code base 0 limit 4 GiB 32-bit; 0x10 data, the same.
  v.setUint32(gdt_off + 8, 0x0000ffff, true);
  v.setUint32(gdt_off + 12, 0x00cf9b00, true);
  v.setUint32(gdt_off + 16, 0x0000ffff, true);
  v.setUint32(gdt_off + 20, 0x00cf9300, true);
  images.push({ bytes: info, gpa: mbi_addr });

  const regs = zero_regs();
  regs.eax = MULTIBOOT_BOOTLOADER_MAGIC;
  regs.ebx = mbi_addr;
  regs.eip = ehdr.e_entry;
  regs.esp = MULTIBOOT_INITIAL_ESP;
  regs.eflags = EFLAGS_RESERVED_1;
  return {
    images,
    entry: {
      regs,
      sregs: {
        cs: flat_segment(MULTIBOOT_KERNEL_CS, true),
        ds: flat_segment(MULTIBOOT_KERNEL_DS, false),
        es: flat_segment(MULTIBOOT_KERNEL_DS, false),
        fs: flat_segment(MULTIBOOT_KERNEL_DS, false),
        gs: flat_segment(MULTIBOOT_KERNEL_DS, false),
        ss: flat_segment(MULTIBOOT_KERNEL_DS, false),
        tr: reset_tr(),
        ldt: reset_ldt(),
        gdt: { base: mbi_addr + gdt_off, limit: gdt_size - 1 },
        idt: { base: 0, limit: 0x3ff },
        cr0: CR0_PE | CR0_ET,
        cr2: 0,
        cr3: 0,
        cr4: 0,
      },
    },
  };
}

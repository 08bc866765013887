// The multiboot v1 and firmware loaders (userspace/vmm/loader/) and run_bare's ends of a
// run (HLT, the instruction limit, a real-mode cs:ip entry).

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  load_multiboot, find_multiboot_header, multiboot_info, MultibootError, MULTIBOOT_BOOTLOADER_MAGIC, MULTIBOOT_HEADER_MAGIC,
  MULTIBOOT_INFO_CMDLINE, MULTIBOOT_INFO_MEMORY, MULTIBOOT_AOUT_KLUDGE, MULTIBOOT_VIDEO_MODE,
} from "../../userspace/vmm/loader/multiboot.js";
import { load_firmware, FirmwareError } from "../../userspace/vmm/loader/firmware.js";
import { run_bare } from "../../boot/bare.js";
import { CapturePipe } from "../../machine/host_pipe.js";

const guest = (p: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../guests/${p}`, import.meta.url))));

/** A minimal ELF32 i386 executable: one PT_LOAD of `code` at `paddr`, entry at paddr, with a
 *  multiboot header (flags) at file offset `mb_off` unless null. */
function elf(opts: { code?: number[]; paddr?: number; memsz?: number; flags?: number; mb_off?: number | null; checksum_delta?: number; cls?: number }): Uint8Array {
  const paddr = opts.paddr ?? 0x100000;
  const code = opts.code ?? [0xf4];
  const mb_off = opts.mb_off === undefined ? 0x60 : opts.mb_off;
  const payload_off = 0x100;
  const size = Math.max(payload_off + code.length, (mb_off ?? 0) + 12);
  const f = new Uint8Array(size);
  const v = new DataView(f.buffer);
  f.set([0x7f, 0x45, 0x4c, 0x46, opts.cls ?? 1, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true);
  v.setUint32(24, paddr, true); // e_entry
  v.setUint32(28, 52, true); // e_phoff
  v.setUint16(40, 52, true);
  v.setUint16(42, 32, true);
  v.setUint16(44, 1, true);
  v.setUint32(52, 1, true); // PT_LOAD
  v.setUint32(56, payload_off, true);
  v.setUint32(60, paddr, true);
  v.setUint32(64, paddr, true);
  v.setUint32(68, code.length, true);
  v.setUint32(72, opts.memsz ?? code.length, true);
  v.setUint32(76, 7, true);
  f.set(code, payload_off);
  if (mb_off !== null) {
    const flags = opts.flags ?? 0x3;
    v.setUint32(mb_off, MULTIBOOT_HEADER_MAGIC, true);
    v.setUint32(mb_off + 4, flags, true);
    v.setUint32(mb_off + 8, (-(MULTIBOOT_HEADER_MAGIC + flags) + (opts.checksum_delta ?? 0)) >>> 0, true);
  }
  return f;
}

describe("load_multiboot", () => {
  it("loads a real kernel as QEMU does: segments at p_paddr, EAX/EBX, flat protected mode", () => {
    const g = load_multiboot(guest("mbinfo/mbinfo.elf"), { mem_mib: 32, cmdline: "reps=3 verbose" });
    const kernel = g.images[0];
    expect(kernel.gpa).toBe(0x100000);
    const e = g.entry;
    expect(e.regs.eax).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(e.regs.eip).toBe(0x10000c);
    expect(e.regs.eflags & 0x200).toBe(0); // interrupts off
    const mbi = g.images[g.images.length - 1];
    expect(e.regs.ebx).toBe(mbi.gpa);
    expect(mbi.gpa % 4096).toBe(0);
    expect(mbi.gpa).toBeGreaterThanOrEqual(kernel.gpa + kernel.bytes.length);
    const v = new DataView(mbi.bytes.buffer, mbi.bytes.byteOffset);
    const flags = v.getUint32(multiboot_info.flags, true);
    expect(flags & MULTIBOOT_INFO_MEMORY).toBe(MULTIBOOT_INFO_MEMORY);
    expect(flags & MULTIBOOT_INFO_CMDLINE).toBe(MULTIBOOT_INFO_CMDLINE);
    expect(v.getUint32(multiboot_info.mem_lower, true)).toBe(640);
    expect(v.getUint32(multiboot_info.mem_upper, true)).toBe(32 * 1024 - 1024);
    const at = (gpa: number) => {
      const o = gpa - mbi.gpa;
      return new TextDecoder().decode(mbi.bytes.subarray(o, mbi.bytes.indexOf(0, o)));
    };
    expect(at(v.getUint32(multiboot_info.cmdline, true))).toBe("reps=3 verbose");
    expect(at(v.getUint32(multiboot_info.boot_loader_name, true))).toBe("lkvm");
    const s = e.sregs;
    expect(s.cr0 & 0x80000001).toBe(1); // PE, not PG
    expect(s.cs).toMatchObject({ selector: 0x08, base: 0, limit: 0xffffffff, db: 1, g: 1, type: 0xb, s: 1, present: 1 });
    for (const d of [s.ds, s.es, s.fs, s.gs, s.ss]) expect(d).toMatchObject({ selector: 0x10, base: 0, limit: 0xffffffff, db: 1, type: 0x3 });
    // The GDT the loader leaves: 0x08 and 0x10 as the segment registers say.
    const gdt = s.gdt.base - mbi.gpa;
    expect(s.gdt.limit).toBe(23);
    expect(v.getUint32(gdt + 12, true)).toBe(0x00cf9b00);
    expect(v.getUint32(gdt + 20, true)).toBe(0x00cf9300);
  });

  it("zero-fills p_memsz beyond p_filesz", () => {
    const g = load_multiboot(elf({ code: [0x90, 0xf4], memsz: 0x3000 }), { mem_mib: 4 });
    expect(g.images[0].bytes.length).toBe(0x3000);
    expect([...g.images[0].bytes.subarray(0, 3)]).toEqual([0x90, 0xf4, 0]);
    expect(g.images[1].gpa).toBe(0x103000);
    expect(g.entry.regs.ebx).toBe(0x103000);
  });

  it("finds the header only 4-byte aligned, in the first 8 KiB, with a valid checksum", () => {
    expect(find_multiboot_header(elf({ mb_off: 0x1ff4 }))?.offset).toBe(0x1ff4);
    expect(find_multiboot_header(elf({ mb_off: 0x2000 }))).toBeNull();
    expect(find_multiboot_header(elf({ mb_off: 0x62 }))).toBeNull();
    expect(find_multiboot_header(elf({ checksum_delta: 1 }))).toBeNull();
    expect(() => load_multiboot(elf({ mb_off: null }), { mem_mib: 4 })).toThrow(/no multiboot header/);
  });

  it("refuses what it cannot do, by name", () => {
    expect(() => load_multiboot(elf({ flags: MULTIBOOT_AOUT_KLUDGE | 3 }), { mem_mib: 4 })).toThrow(/MULTIBOOT_AOUT_KLUDGE/);
    expect(() => load_multiboot(elf({ flags: MULTIBOOT_VIDEO_MODE }), { mem_mib: 4 })).toThrow(/MULTIBOOT_VIDEO_MODE/);
    expect(() => load_multiboot(elf({ flags: 0x100 }), { mem_mib: 4 })).toThrow(/required flag bits 0x100/);
    expect(() => load_multiboot(elf({ cls: 2 }), { mem_mib: 4 })).toThrow(/ELFCLASS32/);
    expect(() => load_multiboot(elf({ paddr: 0x3ff000, memsz: 0x2000 }), { mem_mib: 4 })).toThrow(/does not fit in 4 MiB/);
    expect(() => load_multiboot(elf({}), { mem_mib: 1 })).toThrow(MultibootError);
    const notelf = elf({});
    notelf[0] = 0;
    expect(() => load_multiboot(notelf, { mem_mib: 4 })).toThrow(/not an ELF file/);
  });
});

describe("load_firmware", () => {
  it("maps a 64 KiB image at 0xF0000 and 0xFFFF0000 and starts at the reset vector", () => {
    const img = new Uint8Array(0x10000).map((_, i) => i & 0xff);
    const g = load_firmware(img, { mem_mib: 8 });
    expect(g.images.map((i) => [i.gpa, i.bytes.length, i.rom])).toEqual([[0xf0000, 0x10000, true], [0xffff0000, 0x10000, true]]);
    expect(g.entry.sregs.cs).toMatchObject({ selector: 0xf000, base: 0xffff0000, limit: 0xffff });
    expect(g.entry.regs.eip).toBe(0xfff0);
    expect(g.entry.sregs.cr0).toBe(0x60000010);
    expect(g.entry.sregs.ds).toMatchObject({ selector: 0, base: 0, limit: 0xffff });
  });

  it("maps only the last 128 KiB of a larger image below 1 MiB", () => {
    const img = new Uint8Array(0x40000);
    img[0x3ffff] = 0xaa;
    const g = load_firmware(img, { mem_mib: 8 });
    expect(g.images[0].gpa).toBe(0xe0000);
    expect(g.images[0].bytes.length).toBe(0x20000);
    expect(g.images[0].bytes[0x1ffff]).toBe(0xaa);
    expect(g.images[1].gpa).toBe(0xfffc0000);
  });

  it("wants a multiple of 64 KiB, as QEMU", () => {
    expect(() => load_firmware(new Uint8Array(0x8000), { mem_mib: 8 })).toThrow(FirmwareError);
    expect(() => load_firmware(new Uint8Array(0), { mem_mib: 8 })).toThrow(/multiple of 64 KiB/);
  });
});

describe("run_bare", () => {
  it("runs a flat real-mode image from cs:ip; HLT ends it with status 0", () => {
    const stdout = new CapturePipe();
    const r = run_bare({ mem_mib: 1, images: [{ bytes: guest("hello-real/hello.bin"), gpa: 0x1000 }], entry_state: { cs: 0, ip: 0x1000 }, stdout });
    expect(stdout.text()).toMatch(/^Hello from a real-mode guest, run by lkvm\.\nsum=[0-9a-f]{4}\n$/);
    expect(r).toMatchObject({ exit_status: 0, end: "hlt" });
    expect(r.insns).toBeGreaterThan(100);
  });

  it("stops a guest that never exits at max_insns with status 124", () => {
    const stdout = new CapturePipe(), stderr = new CapturePipe();
    // jmp $ at 0x7c00
    const r = run_bare({ mem_mib: 1, images: [{ bytes: Uint8Array.from([0xeb, 0xfe]), gpa: 0x7c00 }], entry_state: { cs: 0, ip: 0x7c00 }, stdout, stderr, max_insns: 1000 });
    expect(r).toEqual({ exit_status: 124, insns: 1000, end: "insn_limit" });
    expect(stderr.text()).toMatch(/no exit after 1000 instructions \(eip 0x7c00\)/);
  });

  it("ends at the isa-debug-exit write: later output is dropped", () => {
    // mov al,'a'; out 0xe9,al; mov al,3; out 0xf4,al; mov al,'b'; out 0xe9,al; hlt
    const code = Uint8Array.from([0xb0, 0x61, 0xe6, 0xe9, 0xb0, 0x03, 0xe6, 0xf4, 0xb0, 0x62, 0xe6, 0xe9, 0xf4]);
    const stdout = new CapturePipe();
    const r = run_bare({ mem_mib: 1, images: [{ bytes: code, gpa: 0x7c00 }], entry_state: { cs: 0, ip: 0x7c00 }, stdout });
    expect(stdout.text()).toBe("a");
    expect(r.exit_status).toBe(7);
    expect(r.end).toBe("debug_exit");
  });

  it("refuses an image outside RAM that is not ROM", () => {
    expect(() => run_bare({ mem_mib: 1, images: [{ bytes: new Uint8Array(16), gpa: 0x100000 }], entry_state: { cs: 0, ip: 0 }, stdout: new CapturePipe() }))
      .toThrow(/does not fit in 1 MiB/);
  });
});

describe("apply_entry_state", () => {
  it("fills kvm_regs and kvm_sregs from a multiboot entry state", async () => {
    const { apply_entry_state } = await import("../../userspace/vmm/loader/kvm_entry.js");
    const g = load_multiboot(guest("mbinfo/mbinfo.elf"), { mem_mib: 32 });
    const zero_seg = () => ({ base: 0n, limit: 0, selector: 0, type: 0, present: 0, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 1, padding: 0 });
    const regs = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n,
      r13: 0n, r14: 0n, r15: 0n, rip: 0n, rflags: 0n };
    const sregs = { cs: zero_seg(), ds: zero_seg(), es: zero_seg(), fs: zero_seg(), gs: zero_seg(), ss: zero_seg(), tr: zero_seg(), ldt: zero_seg(),
      gdt: { base: 0n, limit: 0, padding: new Uint8Array(6) }, idt: { base: 0n, limit: 0, padding: new Uint8Array(6) },
      cr0: 0n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apic_base: 0xfee00900n, interrupt_bitmap: [0n, 0n, 0n, 0n] };
    apply_entry_state(g.entry, regs, sregs);
    expect(regs.rax).toBe(0x2badb002n);
    expect(regs.rbx).toBe(BigInt(g.entry.regs.ebx));
    expect(regs.rip).toBe(0x10000cn);
    expect(regs.rflags).toBe(2n);
    expect(sregs.cs).toMatchObject({ selector: 8, base: 0n, limit: 0xffffffff, type: 0xb, db: 1, g: 1, present: 1, unusable: 0 });
    expect(sregs.ss).toMatchObject({ selector: 0x10, type: 3, db: 1 });
    expect(sregs.cr0).toBe(0x11n);
    expect(sregs.gdt.base).toBe(BigInt(g.entry.sregs.gdt.base));
    expect(sregs.apic_base).toBe(0xfee00900n); // untouched
  });
});

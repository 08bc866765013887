// The model's uapi header against the real one: a C probe compiled with gcc against the
// installed <linux/kvm.h> prints every ioctl number, struct size and field offset the
// model declares, and each must match. Skipped, with the reason, where gcc or the
// header is missing.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { linux_ioctl } from "../../include/uapi/asm-generic/ioctl.js";
import * as k from "../../include/uapi/linux/kvm.js";

const HEADER = "/usr/include/linux/kvm.h";
const gcc = (() => {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const why = !existsSync(HEADER) ? `${HEADER} is not installed` : !gcc ? "gcc is not installed" : null;

type Layout = { span: number; offsetOf(f: string): number | undefined; fields: { property?: string }[] };
const structs: [string, Layout][] = [
  ["kvm_regs", k.kvm_regs_layout as unknown as Layout],
  ["kvm_segment", k.kvm_segment_layout as unknown as Layout],
  ["kvm_dtable", k.kvm_dtable_layout as unknown as Layout],
  ["kvm_sregs", k.kvm_sregs_layout as unknown as Layout],
  ["kvm_memory_region", k.kvm_memory_region_layout as unknown as Layout],
  ["kvm_userspace_memory_region", k.kvm_userspace_memory_region_layout as unknown as Layout],
  ["kvm_interrupt", k.kvm_interrupt_layout as unknown as Layout],
  ["kvm_translation", k.kvm_translation_layout as unknown as Layout],
  ["kvm_dirty_log", k.kvm_dirty_log_layout as unknown as Layout],
  ["kvm_msrs", k.kvm_msrs_layout as unknown as Layout],
  ["kvm_msr_entry", k.kvm_msr_entry_layout as unknown as Layout],
  ["kvm_msr_list", k.kvm_msr_list_layout as unknown as Layout],
  ["kvm_guest_debug", k.kvm_guest_debug_layout as unknown as Layout],
];
// Fields the model names but C spells differently or holds in unions.
const C_FIELD: Record<string, string> = { "kvm_guest_debug.debugreg": "arch.debugreg" };
// Union members of kvm_run, relative to the struct.
const RUN_FIELDS: [string, number][] = [
  ["request_interrupt_window", k.kvm_run_header_layout.offsetOf("request_interrupt_window")!],
  ["immediate_exit", k.kvm_run_header_layout.offsetOf("immediate_exit")!],
  ["exit_reason", k.kvm_run_header_layout.offsetOf("exit_reason")!],
  ["ready_for_interrupt_injection", k.kvm_run_header_layout.offsetOf("ready_for_interrupt_injection")!],
  ["if_flag", k.kvm_run_header_layout.offsetOf("if_flag")!],
  ["flags", k.kvm_run_header_layout.offsetOf("flags")!],
  ["cr8", k.kvm_run_header_layout.offsetOf("cr8")!],
  ["apic_base", k.kvm_run_header_layout.offsetOf("apic_base")!],
  ["io.direction", k.KVM_RUN_EXIT_UNION + k.kvm_run_io_layout.offsetOf("direction")!],
  ["io.size", k.KVM_RUN_EXIT_UNION + k.kvm_run_io_layout.offsetOf("size")!],
  ["io.port", k.KVM_RUN_EXIT_UNION + k.kvm_run_io_layout.offsetOf("port")!],
  ["io.count", k.KVM_RUN_EXIT_UNION + k.kvm_run_io_layout.offsetOf("count")!],
  ["io.data_offset", k.KVM_RUN_EXIT_UNION + k.kvm_run_io_layout.offsetOf("data_offset")!],
  ["mmio.phys_addr", k.KVM_RUN_EXIT_UNION + k.kvm_run_mmio_layout.offsetOf("phys_addr")!],
  ["mmio.data", k.KVM_RUN_EXIT_UNION + k.kvm_run_mmio_layout.offsetOf("data")!],
  ["mmio.len", k.KVM_RUN_EXIT_UNION + k.kvm_run_mmio_layout.offsetOf("len")!],
  ["mmio.is_write", k.KVM_RUN_EXIT_UNION + k.kvm_run_mmio_layout.offsetOf("is_write")!],
  ["ex.exception", k.KVM_RUN_EXIT_UNION + k.kvm_run_ex_layout.offsetOf("exception")!],
  ["ex.error_code", k.KVM_RUN_EXIT_UNION + k.kvm_run_ex_layout.offsetOf("error_code")!],
  ["fail_entry.hardware_entry_failure_reason", k.KVM_RUN_EXIT_UNION],
  ["internal.suberror", k.KVM_RUN_EXIT_UNION + k.kvm_run_internal_layout.offsetOf("suberror")!],
  ["internal.ndata", k.KVM_RUN_EXIT_UNION + k.kvm_run_internal_layout.offsetOf("ndata")!],
  ["debug.arch.exception", k.KVM_RUN_EXIT_UNION + k.kvm_debug_exit_arch_layout.offsetOf("exception")!],
  ["debug.arch.pc", k.KVM_RUN_EXIT_UNION + k.kvm_debug_exit_arch_layout.offsetOf("pc")!],
  ["debug.arch.dr6", k.KVM_RUN_EXIT_UNION + k.kvm_debug_exit_arch_layout.offsetOf("dr6")!],
  ["debug.arch.dr7", k.KVM_RUN_EXIT_UNION + k.kvm_debug_exit_arch_layout.offsetOf("dr7")!],
  ["kvm_valid_regs", k.KVM_RUN_OFFSETS.kvm_valid_regs],
  ["kvm_dirty_regs", k.KVM_RUN_OFFSETS.kvm_dirty_regs],
  ["s", k.KVM_RUN_OFFSETS.s],
];

function probe(): Map<string, number> {
  const lines: string[] = ['#include <stdio.h>', '#include <stddef.h>', '#include <linux/kvm.h>', "int main(void) {"];
  const p = (key: string, expr: string) => lines.push(`  printf("%s %llu\\n", "${key}", (unsigned long long)(${expr}));`);
  for (const d of k.KVM_IOCTLS) p(d.name, d.name);
  for (const [name, l] of structs) {
    p(`sizeof ${name}`, `sizeof(struct ${name})`);
    for (const f of l.fields) {
      if (f.property === undefined || f.property.startsWith("pad")) continue;
      p(`${name}.${f.property}`, `offsetof(struct ${name}, ${C_FIELD[`${name}.${f.property}`] ?? f.property})`);
    }
  }
  p("sizeof kvm_run", "sizeof(struct kvm_run)");
  for (const [f] of RUN_FIELDS) p(`kvm_run.${f}`, `offsetof(struct kvm_run, ${f})`);
  for (const c of ["KVM_API_VERSION", "KVM_EXIT_IO", "KVM_EXIT_HLT", "KVM_EXIT_MMIO", "KVM_EXIT_INTERNAL_ERROR", "KVM_EXIT_FAIL_ENTRY", "KVM_EXIT_SHUTDOWN", "KVM_EXIT_DEBUG", "KVM_EXIT_IRQ_WINDOW_OPEN", "KVM_EXIT_INTR", "KVM_CAP_USER_MEMORY", "KVM_CAP_NR_MEMSLOTS", "KVM_CAP_MAX_VCPUS", "KVM_CAP_IMMEDIATE_EXIT", "KVM_CAP_READONLY_MEM", "KVM_MEM_LOG_DIRTY_PAGES", "KVM_MEM_READONLY", "KVM_GUESTDBG_ENABLE", "KVM_GUESTDBG_SINGLESTEP", "KVM_GUESTDBG_USE_SW_BP", "KVM_GUESTDBG_USE_HW_BP", "KVM_INTERNAL_ERROR_EMULATION", "KVM_PIO_PAGE_OFFSET"])
    p(c, c);
  lines.push("  return 0;", "}");
  const dir = mkdtempSync(join(tmpdir(), "lkvm-probe-"));
  writeFileSync(join(dir, "probe.c"), lines.join("\n"));
  execFileSync("gcc", ["-o", join(dir, "probe"), join(dir, "probe.c")]);
  const out = execFileSync(join(dir, "probe"), { encoding: "utf8" });
  return new Map(out.trim().split("\n").map((l) => { const i = l.lastIndexOf(" "); return [l.slice(0, i), Number(l.slice(i + 1))]; }));
}

describe.skipIf(why !== null)(`uapi/linux/kvm.ts against ${HEADER}${why ? ` (skipped: ${why})` : ""}`, () => {
  const c = why === null ? probe() : new Map<string, number>();

  it.each(k.KVM_IOCTLS.map((d) => [d.name, d] as const))("%s has the Linux number", (name, d) => {
    expect(linux_ioctl(d)).toBe(c.get(name));
  });

  it.each(structs)("struct %s: size and every field offset", (name, l) => {
    expect(l.span).toBe(c.get(`sizeof ${name}`));
    for (const f of l.fields) {
      if (f.property === undefined || f.property.startsWith("pad")) continue;
      expect(l.offsetOf(f.property), `${name}.${f.property}`).toBe(c.get(`${name}.${f.property}`));
    }
  });

  it("struct kvm_run: size and the offsets of its header and exit union members", () => {
    expect(k.KVM_RUN_SIZE).toBe(c.get("sizeof kvm_run"));
    for (const [f, off] of RUN_FIELDS) expect(off, `kvm_run.${f}`).toBe(c.get(`kvm_run.${f}`));
  });

  it("constants", () => {
    const mine: Record<string, number> = {
      KVM_API_VERSION: k.KVM_API_VERSION, KVM_EXIT_IO: k.KVM_EXIT_IO, KVM_EXIT_HLT: k.KVM_EXIT_HLT,
      KVM_EXIT_MMIO: k.KVM_EXIT_MMIO, KVM_EXIT_INTERNAL_ERROR: k.KVM_EXIT_INTERNAL_ERROR,
      KVM_EXIT_FAIL_ENTRY: k.KVM_EXIT_FAIL_ENTRY, KVM_EXIT_SHUTDOWN: k.KVM_EXIT_SHUTDOWN, KVM_EXIT_DEBUG: k.KVM_EXIT_DEBUG,
      KVM_EXIT_IRQ_WINDOW_OPEN: k.KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_INTR: k.KVM_EXIT_INTR,
      KVM_CAP_USER_MEMORY: k.KVM_CAP_USER_MEMORY, KVM_CAP_NR_MEMSLOTS: k.KVM_CAP_NR_MEMSLOTS,
      KVM_CAP_MAX_VCPUS: k.KVM_CAP_MAX_VCPUS, KVM_CAP_IMMEDIATE_EXIT: k.KVM_CAP_IMMEDIATE_EXIT,
      KVM_CAP_READONLY_MEM: k.KVM_CAP_READONLY_MEM, KVM_MEM_LOG_DIRTY_PAGES: k.KVM_MEM_LOG_DIRTY_PAGES,
      KVM_MEM_READONLY: k.KVM_MEM_READONLY, KVM_GUESTDBG_ENABLE: k.KVM_GUESTDBG_ENABLE,
      KVM_GUESTDBG_SINGLESTEP: k.KVM_GUESTDBG_SINGLESTEP, KVM_GUESTDBG_USE_SW_BP: k.KVM_GUESTDBG_USE_SW_BP,
      KVM_GUESTDBG_USE_HW_BP: k.KVM_GUESTDBG_USE_HW_BP, KVM_INTERNAL_ERROR_EMULATION: k.KVM_INTERNAL_ERROR_EMULATION,
      KVM_PIO_PAGE_OFFSET: k.KVM_PIO_PAGE_OFFSET,
    };
    for (const [name, v] of Object.entries(mine)) expect(v, name).toBe(c.get(name));
  });
});

// debugfs on host-linux: files a module creates with DEFINE_SIMPLE_ATTRIBUTE operations,
// read by a process under /sys/kernel/debug with open/read/lseek/getdents64, and the
// error paths of both sides.

import { describe, expect, it } from "vitest";
import { CapturePipe } from "../../machine/host_pipe.js";
import { syscall, user_load, user_store } from "../../machine/syscall.js";
import { EACCES, EBADF, EFAULT, EINVAL, EIO, EISDIR, ENOENT, ENOTDIR, ESPIPE } from "../../host-linux/include/linux/errno.js";
import { run_kernel } from "./helpers.js";
import { NR, O_RDONLY, O_RDWR, mmap_anon, ret } from "./uthread.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const O_DIRECTORY = 0o200000;

/** Userspace: open a path (the string is put at `scratch`). */
async function open(scratch: number, path: string, flags: number): Promise<number> {
  user_store(scratch, enc(path + "\0"));
  return ret(await syscall(NR.open, scratch, flags, 0));
}

/** Userspace: read up to n bytes into buf; the text or the -errno. */
async function read(fd: number, buf: number, n: number): Promise<string | number> {
  const r = ret(await syscall(NR.read, fd, buf, n));
  if (r < 0) return r;
  const b = new Uint8Array(r);
  user_load(buf, b);
  return dec(b);
}

/** Parse linux_dirent64 records. */
function parse_dirents(b: Uint8Array): { name: string; type: number; off: number }[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const out = [];
  for (let at = 0; at < b.length;) {
    const reclen = dv.getUint16(at + 16, true);
    const type = b[at + 18];
    let end = at + 19;
    while (b[end] !== 0) end++;
    out.push({ name: dec(b.subarray(at + 19, end)), type, off: Number(dv.getBigInt64(at + 8, true)) });
    at += reclen;
  }
  return out;
}

describe("debugfs", () => {
  it("a module's statistics read through /sys/kernel/debug: values, EOF, lseek, short reads, getdents64", async () => {
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const stats = { exits: 42n, halt_exits: 7n, signed: -3n };
      const kvm = k.api.debugfs_create_dir("kvm", null);
      const f_exits = k.api.debugfs_create_file("exits", 0o444, kvm, "exits", { get: (d) => stats[d as "exits"] });
      k.api.debugfs_create_file("halt_exits", 0o444, kvm, "halt_exits", { get: async (d) => stats[d as "halt_exits"] });
      k.api.debugfs_create_file("signed", 0o444, kvm, "signed", { get: (d) => stats[d as "signed"], fmt: "%lld\n" });
      k.api.debugfs_create_file("hex", 0o444, kvm, null, { get: () => 255n, fmt: "0x%08llx\n" });
      const r: Record<string, unknown> = { created: f_exits !== null && kvm !== null };
      const st = await k.run_process("kvm_stat", async () => {
        const page = await mmap_anon(2 * 4096);
        const buf = page + 4096;
        const fd = await open(page, "/sys/kernel/debug/kvm/exits", O_RDONLY);
        r.fd = fd;
        r.first = await read(fd, buf, 64);
        r.eof = await read(fd, buf, 64);
        stats.exits = 43n; // the counter moves; a read at offset > 0 still sees the old buffer
        r.eof_again = await read(fd, buf, 64);
        r.lseek = ret(await syscall(NR.lseek, fd, 0, 0 /* SEEK_SET */));
        r.after_seek = await read(fd, buf, 64);
        r.lseek0 = ret(await syscall(NR.lseek, fd, 0, 0));
        r.short1 = await read(fd, buf, 1);
        r.short2 = await read(fd, buf, 64);
        r.signed = await read(await open(page, "/sys/kernel/debug/kvm/signed", O_RDONLY), buf, 64);
        r.hex = await read(await open(page, "//sys/kernel/./debug/kvm/../kvm/hex", O_RDONLY), buf, 64);
        r.halt = await read(await open(page, "/sys/kernel/debug/kvm/halt_exits", O_RDONLY), buf, 64);
        const dir = await open(page, "/sys/kernel/debug/kvm", O_RDONLY | O_DIRECTORY);
        const n = ret(await syscall(NR.getdents64, dir, buf, 4096));
        const b = new Uint8Array(Math.max(0, n));
        user_load(buf, b);
        r.dirents = parse_dirents(b).map((e) => `${e.name}:${e.type}`);
        r.getdents_end = ret(await syscall(NR.getdents64, dir, buf, 4096));
        const root = await open(page, "/sys/kernel/debug", O_RDONLY);
        const n2 = ret(await syscall(NR.getdents64, root, buf, 4096));
        const b2 = new Uint8Array(Math.max(0, n2));
        user_load(buf, b2);
        r.root = parse_dirents(b2).map((e) => e.name);
        return 0;
      }, new CapturePipe(), new CapturePipe());
      k.api.debugfs_remove_recursive(kvm);
      return { st, r, leak: before - k.free_page_count() };
    });
    expect(result.st).toEqual({ exit_code: 0, signal: null });
    expect(result.r).toEqual({
      created: true, fd: 3, first: "42\n", eof: "", eof_again: "", lseek: 0, after_seek: "43\n", lseek0: 0, short1: "4", short2: "3\n",
      signed: "-3\n", hex: "0x000000ff\n", halt: "7\n",
      dirents: [".:4", "..:4", "exits:8", "halt_exits:8", "signed:8", "hex:8"], getdents_end: 0, root: [".", "..", "kvm"],
    });
    expect(result.leak).toBe(0);
  });

  it("writes go to set() as strtoull base 0; a file without set refuses writes", async () => {
    const { result } = await run_kernel(async (k) => {
      const seen: bigint[] = [];
      const d = k.api.debugfs_create_file("knob", 0o644, null, null, {
        get: () => seen.at(-1) ?? 0n,
        set: (_d, v) => {
          if (v > 1000n) return -EINVAL;
          seen.push(v);
          return 0;
        },
      });
      k.api.debugfs_create_file("ro", 0o444, null, null, { get: () => 1n });
      const r: Record<string, unknown> = {};
      await k.run_process("w", async () => {
        const page = await mmap_anon(4096);
        const fd = await open(page, "/sys/kernel/debug/knob", O_RDWR);
        for (const s of ["0x10\n", "010", "99 bottles", "5000"]) {
          user_store(page + 512, enc(s));
          r[s] = ret(await syscall(NR.write, fd, page + 512, s.length));
        }
        r.read_back = await read(fd, page + 1024, 16);
        const ro = await open(page, "/sys/kernel/debug/ro", O_RDWR);
        r.ro_write = ret(await syscall(NR.write, ro, page + 512, 1));
        r.write_efault = ret(await syscall(NR.write, fd, 0x1000, 2));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      k.api.debugfs_remove_recursive(d);
      return { r, seen };
    });
    expect(result.seen).toEqual([16n, 8n, 99n]);
    expect(result.r).toEqual({ "0x10\n": 5, "010": 3, "99 bottles": 10, "5000": -EINVAL, read_back: "99\n", ro_write: -EACCES, write_efault: -EFAULT });
  });

  it("errors: creation failures return NULL and say why; lookups, reads and seeks refuse what they must", async () => {
    const { result, k } = await run_kernel(async (k) => {
      const r: Record<string, unknown> = {};
      const get = () => 1n;
      const dir = k.api.debugfs_create_dir("d", null)!;
      const file = k.api.debugfs_create_file("f", 0o444, dir, null, { get })!;
      r.dup_dir = k.api.debugfs_create_dir("d", null);
      r.dup_file = k.api.debugfs_create_file("f", 0o444, dir, null, { get });
      r.bad_name = k.api.debugfs_create_dir("a/b", null);
      r.empty_name = k.api.debugfs_create_file("", 0o444, null, null, { get });
      r.file_parent = k.api.debugfs_create_file("g", 0o444, file, null, { get });
      r.bad_fmt = k.api.debugfs_create_file("h", 0o444, dir, null, { get, fmt: "%s\n" });
      const gone = k.api.debugfs_create_dir("gone", null);
      k.api.debugfs_remove_recursive(gone);
      r.removed_parent = k.api.debugfs_create_dir("x", gone);
      k.api.debugfs_remove_recursive(gone); // twice: nothing
      k.api.debugfs_remove_recursive(null);
      await k.run_process("errors", async () => {
        const page = await mmap_anon(4096);
        const buf = page + 2048;
        r.enoent = await open(page, "/sys/kernel/debug/d/nope", O_RDONLY);
        r.enoent_sys = await open(page, "/sys/kernel", O_RDONLY);
        r.enotdir_path = await open(page, "/sys/kernel/debug/d/f/x", O_RDONLY);
        r.eisdir_open = await open(page, "/sys/kernel/debug/d", O_RDWR);
        r.enotdir_flag = await open(page, "/sys/kernel/debug/d/f", O_RDONLY | O_DIRECTORY);
        const dfd = await open(page, "/sys/kernel/debug/d", O_RDONLY);
        r.read_dir = await read(dfd, buf, 16);
        r.getdents_small = ret(await syscall(NR.getdents64, dfd, buf, 8));
        r.getdents_efault = ret(await syscall(NR.getdents64, dfd, 0x1000, 64));
        const fd = await open(page, "/sys/kernel/debug/d/f", O_RDONLY);
        r.getdents_file = ret(await syscall(NR.getdents64, fd, buf, 64));
        r.read_efault = ret(await syscall(NR.read, fd, 0x1000, 16));
        r.lseek_neg = ret(await syscall(NR.lseek, fd, -1, 0));
        r.lseek_whence = ret(await syscall(NR.lseek, fd, 0, 7));
        r.lseek_end = ret(await syscall(NR.lseek, fd, 5, 2 /* SEEK_END */));
        r.read_past = await read(fd, buf, 16);
        r.lseek_pipe = ret(await syscall(NR.lseek, 1, 0, 0));
        r.close = ret(await syscall(NR.close, fd));
        r.read_closed = await read(fd, buf, 16);
        r.getdents_closed = ret(await syscall(NR.getdents64, fd, buf, 64));
        // removal under an open file
        const fd2 = await open(page, "/sys/kernel/debug/d/f", O_RDONLY);
        k.api.debugfs_remove_recursive(dir);
        r.read_removed = await read(fd2, buf, 16);
        r.open_removed = await open(page, "/sys/kernel/debug/d/f", O_RDONLY);
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return r;
    });
    expect(result).toEqual({
      dup_dir: null, dup_file: null, bad_name: null, empty_name: null, file_parent: null, bad_fmt: null, removed_parent: null,
      enoent: -ENOENT, enoent_sys: -ENOENT, enotdir_path: -ENOTDIR, eisdir_open: -EISDIR, enotdir_flag: -ENOTDIR,
      read_dir: -EISDIR, getdents_small: -EINVAL, getdents_efault: -EFAULT, getdents_file: -ENOTDIR, read_efault: -EFAULT,
      lseek_neg: -EINVAL, lseek_whence: -EINVAL, lseek_end: 5, read_past: "", lseek_pipe: -ESPIPE, close: 0,
      read_closed: -EBADF, getdents_closed: -EBADF, read_removed: -EIO, open_removed: -ENOENT,
    });
    expect(k.dmesg()).toMatch(/debugfs: File 'f' in directory 'd' already present!/);
    expect(k.dmesg()).toMatch(/debugfs: Bad name 'a\/b'/);
    expect(k.dmesg()).toMatch(/format "%s\\n" not implemented/);
  });
});

// The project's C library (userspace/libc, Linux ABI) against host-linux.

import { describe, expect, it } from "vitest";
import { CapturePipe } from "../../machine/host_pipe.js";
import { Libc } from "../../userspace/libc/libc.js";
import { linux_abi } from "../../userspace/libc/abi_linux.js";
import { run_kernel } from "./helpers.js";

describe("userspace/libc on host-linux", () => {
  it("open, mmap, write, errno names, exit", async () => {
    const out = new CapturePipe();
    const { result } = await run_kernel(async (k) => {
      const before = k.free_page_count();
      const seen: Record<string, unknown> = {};
      const st = await k.run_process("libc", async () => {
        const c = new Libc(linux_abi);
        seen.fd = await c.open("/dev/null", linux_abi.O_RDWR | linux_abi.O_CLOEXEC);
        seen.nofile = await c.open("/dev/kvm", linux_abi.O_RDWR);
        seen.nofile_errno = c.errname();
        seen.ioctl = await c.ioctl_raw(seen.fd as number, 0xae00);
        seen.ioctl_errno = c.errname();
        const m = await c.mmap(null, 8192, linux_abi.PROT_READ | linux_abi.PROT_WRITE, linux_abi.MAP_PRIVATE | linux_abi.MAP_ANON, -1, 0);
        c.poke(m!, new Uint8Array([1, 2, 3]));
        seen.peek = Array.from(c.peek(m!, 3));
        seen.bad_munmap = await c.munmap((m! + 1) as never, 4096);
        seen.munmap_errno = c.errname();
        await c.puts(1, "hello\n");
        seen.pid = await c.getpid();
        await c.exit(3);
        return 0;
      }, out, new CapturePipe());
      return { st, seen, leak: before - k.free_page_count() };
    });
    expect(result.st).toEqual({ exit_code: 3, signal: null });
    expect(out.text()).toBe("hello\n");
    expect(result.seen).toMatchObject({
      fd: 3, nofile: -1, nofile_errno: "ENOENT", ioctl: -1, ioctl_errno: "ENOTTY",
      peek: [1, 2, 3], bad_munmap: -1, munmap_errno: "EINVAL",
    });
    expect(result.leak).toBe(0);
  });
});

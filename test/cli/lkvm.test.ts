// The lkvm command as a user runs it: the built binary (npm test builds first), its
// stdout, stderr and exit status.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../../dist/userspace/lkvm.js", import.meta.url));

function lkvm(...args: string[]) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HELLO = "Hello from a real-mode guest, run by lkvm.\nsum=0ed5\n";

describe("lkvm", () => {
  it.each(["freebsd", "linux"])("run --host %s prints the built-in guest's serial output and nothing else", (host) => {
    expect(lkvm("run", "--host", host)).toEqual({ status: 0, stdout: HELLO, stderr: "" });
  });

  it("run with no arguments boots the FreeBSD host", () => {
    const r = lkvm("run", "-v");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(HELLO);
    expect(r.stderr).toMatch(/booting freebsd host/);
    expect(r.stderr).toMatch(/kvm: loaded, API version 12/);
  });

  it.each(["freebsd", "linux"])("example lwn --host %s prints 4 and KVM_EXIT_HLT", (host) => {
    expect(lkvm("example", "lwn", "--host", host)).toEqual({ status: 0, stdout: "4\nKVM_EXIT_HLT\n", stderr: "" });
  });

  it("usage errors are one line on stderr and status 2", () => {
    for (const args of [["run", "--bogus"], ["run", "--host", "solaris"], ["run", "--mem", "0"], ["frobnicate"], ["run", "--raw", "nofile"], ["run", "--raw", "/nonexistent/x.bin@0x1000"]]) {
      const r = lkvm(...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout, args.join(" ")).toBe("");
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });
});

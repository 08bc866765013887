import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { linux_to_bsd_errno, bsd_to_linux_errno, LINUX_TO_BSD_ERRNO } from "../../compat/linuxkpi/linux_errno.js";
import { linux_ioctl_cmd } from "../../compat/linuxkpi/linux_ioctl.js";
import * as L from "../../compat/linux/errno.js";
import * as F from "../../host-freebsd/sys/errno.js";
import { KVM_IOCTLS } from "../../include/uapi/linux/kvm.js";
import { linux_ioctl, _IOC, _IOC_NONE } from "../../include/uapi/asm-generic/ioctl.js";
import { freebsd_ioctl, IOC_VOID, IOC_IN, IOC_OUT, IOCPARM_LEN, _IOWINT } from "../../host-freebsd/sys/ioccom.js";

describe("errno translation Linux -> FreeBSD", () => {
  it("maps the numbers that differ", () => {
    expect(linux_to_bsd_errno(L.EAGAIN)).toBe(35);
    expect(linux_to_bsd_errno(L.EDEADLK)).toBe(11);
    expect(linux_to_bsd_errno(L.ENOSYS)).toBe(78);
    expect(linux_to_bsd_errno(L.EOPNOTSUPP)).toBe(45);
    expect(linux_to_bsd_errno(L.ENAMETOOLONG)).toBe(63);
    expect(linux_to_bsd_errno(L.ENOTEMPTY)).toBe(66);
    expect(linux_to_bsd_errno(L.ELOOP)).toBe(62);
    expect(linux_to_bsd_errno(L.ETIMEDOUT)).toBe(60);
    expect(linux_to_bsd_errno(L.EOVERFLOW)).toBe(84);
  });

  it("keeps the numbers below 35 that agree", () => {
    for (let e = 1; e < 35; e++) {
      if (e === L.EAGAIN || !LINUX_TO_BSD_ERRNO.has(e)) continue;
      expect(linux_to_bsd_errno(e)).toBe(e);
    }
  });

  it("turns the kernel-internal codes into what FreeBSD means by them", () => {
    expect(linux_to_bsd_errno(L.ERESTARTSYS)).toBe(F.ERESTART);
    expect(linux_to_bsd_errno(L.ENOIOCTLCMD)).toBe(F.ENOTTY);
  });

  it("never passes an unknown number through unchanged", () => {
    expect(linux_to_bsd_errno(4000)).toBe(F.EINVAL);
  });

  it("round-trips every one-to-one entry", () => {
    for (const [l, b] of LINUX_TO_BSD_ERRNO) {
      if (l === L.EHWPOISON || l === L.ERESTARTSYS || l === L.ENOIOCTLCMD) continue;
      expect(bsd_to_linux_errno(b)).toBe(l);
    }
    expect(bsd_to_linux_errno(F.EINTR)).toBe(L.EINTR);
  });
});

describe("ioctl re-encoding FreeBSD -> Linux", () => {
  it.each(KVM_IOCTLS.map((d) => [d.name, d] as const))("%s", (_name, d) => {
    const bsd = freebsd_ioctl(d);
    expect(linux_ioctl_cmd(bsd)).toBe(linux_ioctl(d));
    // Same group, number and size; the direction bits are FreeBSD's.
    expect(bsd & 0xffff).toBe(linux_ioctl(d) & 0xffff);
    if (d.dir === 0) expect(bsd & 0xe0000000).toBe(IOC_VOID);
    else {
      expect(IOCPARM_LEN(bsd)).toBe(d.size);
      expect((bsd & IOC_IN) !== 0).toBe((d.dir & 1) !== 0);
      expect((bsd & IOC_OUT) !== 0).toBe(((d.dir & 2) !== 0));
    }
  });

  it("matches the reference values of the KVM API table", () => {
    const byName = Object.fromEntries(KVM_IOCTLS.map((d) => [d.name, d]));
    expect(linux_ioctl(byName.KVM_GET_REGS)).toBe(0x8090ae81);
    expect(freebsd_ioctl(byName.KVM_GET_REGS)).toBe(0x4090ae81);
    expect(freebsd_ioctl(byName.KVM_SET_REGS)).toBe(0x8090ae82);
    expect(freebsd_ioctl(byName.KVM_GET_MSR_INDEX_LIST)).toBe(0xc004ae02);
    expect(freebsd_ioctl(byName.KVM_CREATE_VM)).toBe(0x2000ae01);
    expect(linux_ioctl_cmd(0x2000ae01)).toBe(0xae01);
  });

  it("round-trips any (dir, type, nr, size) FreeBSD can encode", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 8191 }), (dir, type, nr, size) => {
        const d = { name: "x", dir, type, nr, size: dir === 0 ? 0 : size };
        expect(linux_ioctl_cmd(freebsd_ioctl(d))).toBe(linux_ioctl(d));
      }),
    );
  });

  it("an IOC_VOID int command becomes a Linux _IO (no size)", () => {
    expect(linux_ioctl_cmd(_IOWINT(0xae, 0x41))).toBe(_IOC(_IOC_NONE, 0xae, 0x41, 0));
  });
});

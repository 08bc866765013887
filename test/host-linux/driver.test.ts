// A small driver written against compat/linux (as kvm/ is), loaded into host-linux:
// misc device, ioctl with raw user pointers, anon inode fds, driver mmap with ->fault,
// get_user_pages_fast, module reference counting and dependencies.

import { describe, expect, it } from "vitest";
import { CapturePipe } from "../../machine/host_pipe.js";
import { syscall, user_load, user_store, type SyscallResult } from "../../machine/syscall.js";
import type { Uva } from "../../machine/addr.js";
import { MODULE, module_data, type module } from "../../compat/linux/module.js";
import { misc_register, misc_deregister, MISC_DYNAMIC_MINOR, type miscdevice } from "../../compat/linux/miscdevice.js";
import type { file_operations } from "../../compat/linux/fs_types.js";
import { O_CLOEXEC, O_RDWR } from "../../compat/linux/fs_types.js";
import { copy_to_user } from "../../compat/linux/uaccess.js";
import { anon_inode_getfd } from "../../compat/linux/anon_inodes.js";
import { alloc_page, __free_page, GFP_KERNEL, __GFP_ZERO } from "../../compat/linux/gfp.js";
import { page_address, get_user_pages_fast, put_page, type page, type vm_fault } from "../../compat/linux/mm.js";
import { kread } from "../../compat/linux/kmem.js";
import { mutex, mutex_init, mutex_lock, mutex_lock_interruptible, mutex_unlock } from "../../compat/linux/mutex.js";
import { EFAULT, EINTR, ENOIOCTLCMD, ENOMEM } from "../../compat/linux/errno.js";
import { ENOENT, ENOTTY, EWOULDBLOCK } from "../../host-linux/include/linux/errno.js";
import type { linux_kernel } from "../../host-linux/init/main.js";
import { get_current } from "../../host-linux/arch/x86/kernel/percpu.js";
import { TIF_NEED_RESCHED } from "../../host-linux/include/linux/sched.js";
import { run_kernel } from "./helpers.js";

const NR = { read: 0, write: 1, open: 2, close: 3, mmap: 9, munmap: 11, ioctl: 16 };
const ret = (r: SyscallResult): number => Number(BigInt.asIntN(64, r.rax));
const enc = (s: string) => new TextEncoder().encode(s);

interface testdev_state {
  opens: number;
  releases: number;
  vm_releases: number;
  uncopied: number[];
  pinned: string;
  vm_page: page | null;
  held: mutex;
  misc: miscdevice;
}

function make_testdev(): module {
  const state = () => module_data<testdev_state>("testdev", () => {
    const held = new mutex();
    mutex_init(held, "testdev_held");
    return { opens: 0, releases: 0, vm_releases: 0, uncopied: [], pinned: "", vm_page: null, held, misc: null as unknown as miscdevice };
  });
  let self: module;
  const vm_fops: file_operations = {
    get owner() { return self; },
    async mmap(_filp, vma) {
      vma.vm_ops = {
        fault(vmf: vm_fault) {
          vmf.page = state().vm_page;
          return 0;
        },
      };
      return 0;
    },
    async release() {
      state().vm_releases++;
      return 0;
    },
  };
  const fops: file_operations = {
    get owner() { return self; },
    async open() {
      state().opens++;
      return 0;
    },
    async release() {
      state().releases++;
      return 0;
    },
    async unlocked_ioctl(_filp, cmd, arg) {
      const s = state();
      switch (cmd) {
        case 1:
          return 12;
        case 2: {
          const left = await copy_to_user(arg as Uva, new Uint8Array(8192).fill(0x41), 8192);
          s.uncopied.push(left);
          return left ? -EFAULT : 0;
        }
        case 3: {
          if (s.vm_page === null) {
            s.vm_page = await alloc_page(GFP_KERNEL | __GFP_ZERO);
            if (s.vm_page === null) return -ENOMEM;
          }
          return anon_inode_getfd("testdev-vm", vm_fops, s, O_RDWR | O_CLOEXEC);
        }
        case 4: {
          const r = await mutex_lock_interruptible(s.held);
          if (r === 0) mutex_unlock(s.held);
          return r;
        }
        case 5: {
          const pages: page[] = [];
          const n = await get_user_pages_fast(arg as Uva, 1, true, pages);
          if (n !== 1) return n < 0 ? n : -EFAULT;
          s.pinned = new TextDecoder().decode(kread((page_address(pages[0]) + (arg % 4096)) as never, 5));
          put_page(pages[0]);
          return 0;
        }
        default:
          return -ENOIOCTLCMD;
      }
    },
  };
  self = MODULE({
    name: "testdev",
    license: "GPL",
    description: "test device",
    depends: [],
    async init() {
      const s = state();
      s.misc = { minor: MISC_DYNAMIC_MINOR, name: "testdev", fops };
      await mutex_lock(s.held); // held for the module's lifetime, see ioctl 4
      return misc_register(s.misc);
    },
    async exit() {
      const s = state();
      await misc_deregister(s.misc);
      mutex_unlock(s.held);
      if (s.vm_page !== null) __free_page(s.vm_page);
    },
  });
  return self;
}

const testdev_user = MODULE({ name: "testdev_user", license: "GPL", description: "", depends: ["testdev"], async init() { return 0; }, exit: async () => {} });

async function yield_(k: linux_kernel): Promise<void> {
  get_current(k).thread_info.flags |= TIF_NEED_RESCHED;
  await k.api.cond_resched();
}

async function open_dev(buf: number, name: string): Promise<number> {
  user_store(buf, enc(name + "\0"));
  return ret(await syscall(NR.open, buf, 2, 0));
}

describe("a compat/linux driver on host-linux", () => {
  it("misc device, ioctls with raw pointers, anon inode fd, driver mmap, gup, module refcount", async () => {
    const testdev = make_testdev();
    const { result, k } = await run_kernel(async (k) => {
      const r: Record<string, unknown> = {};
      const before = k.free_page_count();
      r.load = await k.load_kvm(testdev);
      r.node = k.devtmpfs.has("testdev");
      let st_fd = -1;
      let vm_fd_seen = -1;
      const pid = await k.spawn_process("user", async () => {
        const buf = ret(await syscall(NR.mmap, 0, 4096, 3, 0x22, -1, 0));
        const fd = await open_dev(buf, "/dev/testdev");
        st_fd = fd;
        r.api = ret(await syscall(NR.ioctl, fd, 1, 0));
        r.enotty = ret(await syscall(NR.ioctl, fd, 99, 0));
        // copy_to_user: 8192 bytes where only the first page is mapped
        const two = ret(await syscall(NR.mmap, 0, 8192, 3, 0x22, -1, 0));
        await syscall(NR.munmap, two + 4096, 4096);
        r.partial = ret(await syscall(NR.ioctl, fd, 2, two));
        r.unmapped = ret(await syscall(NR.ioctl, fd, 2, 0x1000));
        r.kernel_addr = ret(await syscall(NR.ioctl, fd, 2, 2 ** 52));
        const b = new Uint8Array(2);
        user_load(two + 4094, b);
        r.partial_bytes = Array.from(b);
        // an anon inode fd with a driver mmap
        const vmfd = ret(await syscall(NR.ioctl, fd, 3, 0));
        vm_fd_seen = vmfd;
        const m = ret(await syscall(NR.mmap, 0, 4096, 3, 1, vmfd, 0));
        user_store(m, enc("shared"));
        r.vm_close_while_mapped = ret(await syscall(NR.close, vmfd));
        const st = () => k.api.module_data<testdev_state>("testdev", () => { throw new Error(); });
        r.released_while_mapped = st().vm_releases;
        const m2 = ret(await syscall(NR.mmap, 0, 4096, 3, 1, vmfd, 0));
        r.mmap_closed_fd = m2;
        const back = new Uint8Array(6);
        user_load(m, back);
        r.read_back = new TextDecoder().decode(back);
        r.munmap_vm = ret(await syscall(NR.munmap, m, 4096));
        r.released_after_munmap = st().vm_releases;
        // gup on anonymous memory the process has not touched yet, then on the mapping
        user_store(buf + 100, enc("pinme"));
        r.gup = ret(await syscall(NR.ioctl, fd, 5, buf + 100));
        r.gup_bad = ret(await syscall(NR.ioctl, fd, 5, 0x2000));
        r.mmap_null_fd = ret(await syscall(NR.mmap, 0, 4096, 3, 1, 0, 0));
        // ioctl 4 sleeps interruptibly until the parent signals us
        r.eintr = ret(await syscall(NR.ioctl, fd, 4, 0));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      for (let i = 0; i < 20 && (k.pids.get(pid)?.state ?? 0) !== 1; i++) await yield_(k);
      r.unload_busy = await k.unload_kvm(testdev);
      k.kill(pid, 14);
      const st = await k.wait_process(pid);
      r.st = st;
      r.vm_fd = vm_fd_seen;
      r.fd = st_fd;
      const s = k.api.module_data<testdev_state>("testdev", () => { throw new Error("no state"); });
      r.opens = s.opens;
      r.releases = s.releases;
      r.vm_releases = s.vm_releases;
      r.uncopied = s.uncopied;
      r.pinned = s.pinned;
      const bytes = new Uint8Array(6);
      k.api.kmem_load(k.api.page_address(s.vm_page! as never), bytes);
      r.vm_page = new TextDecoder().decode(bytes);
      r.unload = await k.unload_kvm(testdev);
      r.node_after = k.devtmpfs.has("testdev");
      r.leak = before - k.free_page_count();
      return r;
    });
    expect(result).toMatchObject({
      load: 0, node: true, api: 12, enotty: -ENOTTY,
      partial: -EFAULT, unmapped: -EFAULT, kernel_addr: -EFAULT, partial_bytes: [0x41, 0x41],
      vm_close_while_mapped: 0, released_while_mapped: 0, mmap_closed_fd: -9, read_back: "shared", munmap_vm: 0, released_after_munmap: 1, gup: 0, gup_bad: -EFAULT, mmap_null_fd: -13 /* EACCES: /dev/null is open read-only */, eintr: -EINTR,
      unload_busy: EWOULDBLOCK, st: { exit_code: 0, signal: null }, fd: 3, vm_fd: 4,
      opens: 1, releases: 1, vm_releases: 1, uncopied: [4096, 8192, 8192], pinned: "pinme", vm_page: "shared",
      unload: 0, node_after: false, leak: 0,
    });
    expect(k.modules.size).toBe(0);
  });

  it("dependencies: insmod needs them loaded, modprobe loads them, rmmod refuses a used one", async () => {
    const testdev = make_testdev();
    const { result } = await run_kernel(async (k) => ({
      insmod_missing: await k.load_kvm(testdev_user),
      modprobe: await k.load_kvm(testdev_user, [testdev]),
      loaded: [...k.modules.keys()].sort(),
      again: await k.load_kvm(testdev),
      rm_dep: await k.unload_kvm("testdev"),
      rm_user: await k.unload_kvm("testdev_user"),
      after: [...k.modules.keys()],
      rm_missing: await k.unload_kvm("testdev"),
    }));
    expect(result).toEqual({
      insmod_missing: ENOENT, modprobe: 0, loaded: ["testdev", "testdev_user"], again: 17,
      rm_dep: EWOULDBLOCK, rm_user: 0, after: [], rm_missing: ENOENT,
    });
  });

  it("module_data is per loaded instance: a reload starts fresh", async () => {
    const testdev = make_testdev();
    const { result } = await run_kernel(async (k) => {
      await k.load_kvm(testdev);
      k.api.module_data<testdev_state>("testdev", () => { throw new Error(); }).opens = 42;
      await k.unload_kvm(testdev);
      await k.load_kvm(testdev);
      const n = k.api.module_data<testdev_state>("testdev", () => { throw new Error(); }).opens;
      await k.unload_kvm(testdev);
      return n;
    });
    expect(result).toBe(0);
  });
});

describe("driver error paths", () => {
  function make_bad(name: string, fops_over: Partial<file_operations>, minor = MISC_DYNAMIC_MINOR): { mod: module; misc: () => miscdevice } {
    let self: module;
    let misc: miscdevice;
    const fops: file_operations = { get owner() { return self; }, ...fops_over };
    self = MODULE({
      name, license: "GPL", description: "", depends: [],
      async init() {
        misc = { minor, name, fops };
        return misc_register(misc);
      },
      async exit() {
        await misc_deregister(misc);
      },
    });
    return { mod: self, misc: () => misc };
  }

  it("misc minors: a taken minor is EBUSY, a taken name EEXIST, dynamic minors count down from 63", async () => {
    const a = make_bad("a", {}, 200);
    const b = make_bad("b", {}, 200);
    const c = make_bad("a", {});
    const d = make_bad("d", {});
    const e = make_bad("e", {});
    const { result } = await run_kernel(async (k) => ({
      a: await k.load_kvm(a.mod), b: await k.load_kvm(b.mod),
      d: await k.load_kvm(d.mod), e: await k.load_kvm(e.mod), dm: d.misc().minor, em: e.misc().minor,
      c_dup_name: await k.api.misc_register({ minor: MISC_DYNAMIC_MINOR, name: "a", fops: {} }),
      rdev: k.devtmpfs.get("a")!.i_rdev,
    }));
    expect(result).toEqual({ a: 0, b: 16, d: 0, e: 0, dm: 63, em: 62, c_dup_name: -17, rdev: (10 << 20) | 200 });
    void c;
  });

  it("a failing ->open returns its errno and leaves no module reference; ->mmap errors are returned", async () => {
    const bad = make_bad("badopen", { open: async () => -6 /* ENXIO */ });
    const nommap = make_bad("nommap", { mmap: async () => -22 });
    const { result } = await run_kernel(async (k) => {
      await k.load_kvm(bad.mod);
      await k.load_kvm(nommap.mod);
      const r: Record<string, number> = {};
      await k.run_process("p", async () => {
        const buf = ret(await syscall(NR.mmap, 0, 4096, 3, 0x22, -1, 0));
        r.open = await open_dev(buf, "/dev/badopen");
        const fd = await open_dev(buf, "/dev/nommap");
        r.mmap = ret(await syscall(NR.mmap, 0, 4096, 3, 1, fd, 0));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      r.unload_bad = await k.unload_kvm(bad.mod);
      r.unload_nommap = await k.unload_kvm(nommap.mod);
      return r;
    });
    expect(result).toEqual({ open: -6, mmap: -22, unload_bad: 0, unload_nommap: 0 });
  });

  it("returning to user space with a spinlock held is a BUG", async () => {
    const { spinlock_t, spin_lock_init, spin_lock } = await import("../../compat/linux/spinlock.js");
    const leaky = make_bad("leaky", {
      async unlocked_ioctl() {
        const l = new spinlock_t();
        spin_lock_init(l, "leaked_lock");
        await spin_lock(l);
        return 0;
      },
    });
    const b = (await import("./helpers.js")).boot();
    b.k.start(async () => {
      await b.k.load_kvm(leaky.mod);
      await b.k.run_process("p", async () => {
        const buf = ret(await syscall(NR.mmap, 0, 4096, 3, 0x22, -1, 0));
        const fd = await open_dev(buf, "/dev/leaky");
        await syscall(NR.ioctl, fd, 1, 0);
        return 0;
      }, new CapturePipe(), new CapturePipe());
    });
    const err = await b.machine.run().then(() => null, (e) => e);
    expect(String(err?.reason?.message)).toMatch(/^BUG: lock held when returning to user space!\np\/\d+ is leaving the kernel with preempt_count 1 and locks held: leaked_lock/);
    // lockdep's report (lockdep_sys_exit) comes first.
    expect(b.k.dmesg()).toMatch(/WARNING: lock held when returning to user space!\n.*\n.*\n.* p\/\d+ is leaving the kernel with locks still held!\n.* 1 lock held by p\/\d+:\n.*  #0: \(leaked_lock\), at: spin_lock\n/);
  });

  it("a driver fault returning VM_FAULT_SIGBUS kills the process with SIGBUS", async () => {
    const sigbus = make_bad("sigbus", {
      async mmap(_f, vma) {
        vma.vm_ops = { fault: () => 0x2 /* VM_FAULT_SIGBUS */ };
        return 0;
      },
    });
    const { result } = await run_kernel(async (k) => {
      await k.load_kvm(sigbus.mod);
      const before = k.free_page_count();
      const st = await k.run_process("p", async () => {
        const buf = ret(await syscall(NR.mmap, 0, 4096, 3, 0x22, -1, 0));
        const fd = await open_dev(buf, "/dev/sigbus");
        const m = ret(await syscall(NR.mmap, 0, 4096, 3, 1, fd, 0));
        user_load(m, new Uint8Array(1));
        return 0;
      }, new CapturePipe(), new CapturePipe());
      return { st, leak: before - k.free_page_count(), unload: await k.unload_kvm(sigbus.mod) };
    });
    expect(result).toEqual({ st: { exit_code: null, signal: 7 }, leak: 0, unload: 0 });
  });
});

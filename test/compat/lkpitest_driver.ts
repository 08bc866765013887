// A small Linux driver written only against compat/linux, for the model-based test:
// a misc device "lkpitest" whose ioctls copy a struct in, change it and copy it out
// (returning a positive value), take an argument by value, create a new fd on an
// anonymous inode, and fail in the usual ways; and whose mmap hands out kernel pages
// from vm_ops.fault.

import { MODULE, module_data } from "../../compat/linux/module.js";
import type { module } from "../../compat/linux/module_types.js";
import { misc_register, misc_deregister, MISC_DYNAMIC_MINOR, type miscdevice } from "../../compat/linux/miscdevice.js";
import type { file, file_operations, inode } from "../../compat/linux/fs_types.js";
import { anon_inode_getfd } from "../../compat/linux/anon_inodes.js";
import { copy_from_user, copy_to_user } from "../../compat/linux/uaccess.js";
import { alloc_page, __free_page, GFP_KERNEL, __GFP_ZERO } from "../../compat/linux/gfp.js";
import { get_user_pages_fast, put_page, page_address, VM_FAULT_SIGBUS, type page, type vm_area_struct, type vm_fault } from "../../compat/linux/mm.js";
import { kwrite } from "../../compat/linux/kmem.js";
import { mutex, mutex_init, mutex_lock, mutex_unlock } from "../../compat/linux/mutex.js";
import { spinlock_t, spin_lock_init, spin_lock, spin_unlock } from "../../compat/linux/spinlock.js";
import { get_cpu, put_cpu } from "../../compat/linux/smp.js";
import { pr_info } from "../../compat/linux/printk.js";
import { EAGAIN, EFAULT, EINVAL, ENOIOCTLCMD, ENOMEM } from "../../compat/linux/errno.js";
import { _IO, _IOR, _IOWR, linux_ioctl } from "../../include/uapi/asm-generic/ioctl.js";
import type { Uva } from "../../compat/linux/types.js";

export const LKPITEST_TYPE = 0x54;
/** struct lkpitest_arg { u32 a; u32 b; u64 c; } */
export const LKPITEST_STRUCT = _IOWR("LKPITEST_STRUCT", LKPITEST_TYPE, 1, 16);
export const LKPITEST_VALUE = _IO("LKPITEST_VALUE", LKPITEST_TYPE, 2);
/** Writes its 8-byte result, then fails with -EAGAIN. */
export const LKPITEST_WRITE_THEN_FAIL = _IOR("LKPITEST_WRITE_THEN_FAIL", LKPITEST_TYPE, 3, 8);
export const LKPITEST_NEWFD = _IO("LKPITEST_NEWFD", LKPITEST_TYPE, 4);
export const LKPITEST_EAGAIN = _IO("LKPITEST_EAGAIN", LKPITEST_TYPE, 5);
/** Copies 8 bytes to arg + 16 of a 16-byte argument (past its end). */
export const LKPITEST_OVERRUN = _IOWR("LKPITEST_OVERRUN", LKPITEST_TYPE, 6, 16);
/** get_user_pages_fast of 2 pages at arg; writes "gup!" at the start of each pinned
 *  page through the kernel mapping; returns the count pinned or -errno. */
export const LKPITEST_GUP = _IO("LKPITEST_GUP", LKPITEST_TYPE, 7);
export const LKPITEST_IOCTLS = [LKPITEST_STRUCT, LKPITEST_VALUE, LKPITEST_WRITE_THEN_FAIL, LKPITEST_NEWFD, LKPITEST_EAGAIN, LKPITEST_OVERRUN, LKPITEST_GUP];

export const LKPITEST_PAGE0 = "hello from the driver's page 0";
export const LKPITEST_PAGE1 = "and page 1";

interface open_state {
  pages: page[];
  ioctls: number;
  lock: spinlock_t;
}

interface dev_state {
  misc: miscdevice;
  opens: number;
  lock: mutex;
}

const st = (): dev_state => module_data("lkpitest", () => ({ misc: { minor: MISC_DYNAMIC_MINOR, name: "lkpitest", fops }, opens: 0, lock: new mutex() }));

async function lkpitest_open(_ino: inode, filp: file): Promise<number> {
  const s = st();
  const pages: page[] = [];
  for (const text of [LKPITEST_PAGE0, LKPITEST_PAGE1]) {
    const p = await alloc_page(GFP_KERNEL | __GFP_ZERO);
    if (p === null) {
      for (const q of pages) __free_page(q);
      return -ENOMEM;
    }
    kwrite(page_address(p), new TextEncoder().encode(text));
    pages.push(p);
  }
  const lock = new spinlock_t();
  spin_lock_init(lock, "lkpitest open");
  filp.private_data = { pages, ioctls: 0, lock } satisfies open_state;
  await mutex_lock(s.lock);
  s.opens++;
  mutex_unlock(s.lock);
  return 0;
}

async function lkpitest_release(_ino: inode, filp: file): Promise<number> {
  const o = filp.private_data as open_state;
  for (const p of o.pages) __free_page(p);
  const s = st();
  await mutex_lock(s.lock);
  s.opens--;
  mutex_unlock(s.lock);
  return 0;
}

const child_fops: file_operations = {
  async unlocked_ioctl(filp, cmd, arg) {
    if (cmd === linux_ioctl(LKPITEST_VALUE)) return (filp.private_data as number) * 1000 + arg;
    return -ENOIOCTLCMD;
  },
};

async function lkpitest_ioctl(filp: file, cmd: number, arg: number): Promise<number> {
  const o = filp.private_data as open_state;
  await spin_lock(o.lock);
  o.ioctls++;
  spin_unlock(o.lock);
  const argp = arg as Uva;
  switch (cmd) {
    case linux_ioctl(LKPITEST_STRUCT): {
      const b = new Uint8Array(16);
      if ((await copy_from_user(b, argp, 16)) !== 0) return -EFAULT;
      const v = new DataView(b.buffer);
      const a = v.getUint32(0, true) + 1;
      v.setUint32(0, a, true);
      v.setUint32(4, a * 2, true);
      v.setBigUint64(8, ~v.getBigUint64(8, true) & 0xffff_ffff_ffff_ffffn, true);
      // Holding get_cpu() across the copy is what KVM does around vcpu state.
      const cpu = get_cpu();
      put_cpu();
      void cpu;
      if ((await copy_to_user(argp, b, 16)) !== 0) return -EFAULT;
      return 42;
    }
    case linux_ioctl(LKPITEST_VALUE):
      return arg * 3;
    case linux_ioctl(LKPITEST_WRITE_THEN_FAIL): {
      const b = new Uint8Array(8).fill(0xab);
      if ((await copy_to_user(argp, b, 8)) !== 0) return -EFAULT;
      return -EAGAIN;
    }
    case linux_ioctl(LKPITEST_NEWFD):
      if (arg < 0 || arg > 100) return -EINVAL;
      return anon_inode_getfd("lkpitest-child", child_fops, arg, 2 /* O_RDWR */);
    case linux_ioctl(LKPITEST_EAGAIN):
      return -EAGAIN;
    case linux_ioctl(LKPITEST_GUP): {
      const pages: page[] = [];
      const n = await get_user_pages_fast(argp, 2, true, pages);
      for (let i = 0; i < n; i++) {
        kwrite(page_address(pages[i]), new TextEncoder().encode("gup!"));
        put_page(pages[i]);
      }
      return n;
    }
    case linux_ioctl(LKPITEST_OVERRUN): {
      if ((await copy_to_user((argp + 16) as Uva, new Uint8Array(8).fill(1), 8)) !== 0) return -EFAULT;
      return 0;
    }
    default:
      return -ENOIOCTLCMD;
  }
}

function lkpitest_fault(vmf: vm_fault): number {
  const o = vmf.vma.vm_file.private_data as open_state;
  const p = o.pages[vmf.pgoff];
  if (p === undefined) return VM_FAULT_SIGBUS;
  vmf.page = p;
  return 0;
}

async function lkpitest_mmap(_filp: file, vma: vm_area_struct): Promise<number> {
  if (vma.vm_pgoff + (vma.vm_end - vma.vm_start) / 4096 > 2) return -EINVAL;
  vma.vm_ops = { fault: lkpitest_fault };
  return 0;
}

const fops: file_operations = {
  get owner() {
    return lkpitest_module;
  },
  open: lkpitest_open,
  release: lkpitest_release,
  unlocked_ioctl: lkpitest_ioctl,
  mmap: lkpitest_mmap,
};

export const lkpitest_module: module = MODULE({
  name: "lkpitest",
  license: "GPL",
  description: "linuxkpi model test driver",
  depends: [],
  async init() {
    const s = st();
    mutex_init(s.lock, "lkpitest");
    const r = await misc_register(s.misc);
    if (r === 0) pr_info(`lkpitest: registered misc minor ${s.misc.minor}`);
    return r;
  },
  async exit() {
    await misc_deregister(st().misc);
  },
});

/** How many files of the device are open (for tests, through the loaded instance). */
export const lkpitest_opens = (): number => st().opens;

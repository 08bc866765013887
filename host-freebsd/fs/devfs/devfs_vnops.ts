// sys/fs/devfs/devfs_vnops.c: opening a device node and the file operations of a
// file open on one (devfs_ops_f), which call the driver's cdevsw methods with the
// device referenced (dev_refthread) so destroy_dev can wait for them.

import { ENOENT, ENXIO, ENODEV } from "../../sys/errno.js";
import { curkernel } from "../../sys/pcpu.js";
import { DTYPE_VNODE, type file, type fileops } from "../../sys/file.js";
import { S_IFCHR, type cdev } from "../../sys/conf.js";
import type { thread } from "../../sys/proc.js";
import { badfileops, falloc, fdclose, fdrop, finit } from "../../kern/kern_descrip.js";
import { devfs_lookup, dev_refthread, dev_relthread } from "../../kern/kern_conf.js";
import { vm_mmap_cdev } from "../../vm/vm_mmap.js";

async function with_dev<T>(fp: file, fail: T, f: (dev: cdev) => Promise<T>): Promise<T> {
  const dev = fp.f_data as cdev;
  if (!dev_refthread(dev)) return fail;
  try {
    return await f(dev);
  } finally {
    dev_relthread(dev);
  }
}

export const devfs_ops_f: fileops = {
  name: "devfs_ops_f",
  fo_read: (fp, buf, td) => with_dev(fp, ENXIO, (dev) => (dev.si_devsw.d_read ? dev.si_devsw.d_read(dev, buf, 0, td) : Promise.resolve(ENODEV))),
  fo_write: (fp, buf, td) => with_dev(fp, ENXIO, (dev) => (dev.si_devsw.d_write ? dev.si_devsw.d_write(dev, buf, 0, td) : Promise.resolve(ENODEV))),
  fo_ioctl: (fp, com, data, td) =>
    with_dev(fp, ENXIO, (dev) => (dev.si_devsw.d_ioctl ? dev.si_devsw.d_ioctl(dev, com, data, fp.f_flag, td) : Promise.resolve(ENODEV))),
  async fo_close(fp, td) {
    const dev = fp.f_data as cdev;
    dev.si_refcount--;
    if (!dev_refthread(dev)) return 0;
    try {
      return dev.si_devsw.d_close ? await dev.si_devsw.d_close(dev, fp.f_flag, S_IFCHR, td) : 0;
    } finally {
      dev_relthread(dev);
    }
  },
  fo_mmap: (fp, vs, size, prot, maxprot, flags, foff, td) =>
    with_dev(fp, { error: ENXIO, addr: 0 }, (dev) => vm_mmap_cdev(td, vs, size, prot, maxprot, flags, dev, foff)),
};

/** devfs_open through vn_open: a new descriptor for /dev/<name>. */
export async function devfs_open(td: thread, name: string, fflags: number): Promise<{ error: number; fd: number }> {
  const dev = devfs_lookup(curkernel(), name);
  if (dev === null) return { error: ENOENT, fd: -1 };
  const r = falloc(td);
  if (r.error !== 0) return { error: r.error, fd: -1 };
  const fp = r.fp!;
  fp.f_flag = fflags;
  if (!dev_refthread(dev)) {
    fdclose(td, fp, r.fd);
    await fdrop(fp, td);
    return { error: ENXIO, fd: -1 };
  }
  let error: number;
  try {
    const dsw = dev.si_devsw;
    if (dsw.d_fdopen) error = await dsw.d_fdopen(dev, fflags, td, fp);
    else error = dsw.d_open ? await dsw.d_open(dev, fflags, S_IFCHR, td) : 0;
  } finally {
    dev_relthread(dev);
  }
  if (error !== 0) {
    fdclose(td, fp, r.fd);
    await fdrop(fp, td);
    return { error, fd: -1 };
  }
  if (fp.f_ops === badfileops) {
    finit(fp, fflags, DTYPE_VNODE, dev, devfs_ops_f);
    fp.f_vnode = dev;
    dev.si_refcount++;
  }
  await fdrop(fp, td);
  return { error: 0, fd: r.fd };
}

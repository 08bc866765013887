// include/linux/debugfs.h on FreeBSD: debugfs over the sysctl MIB.
//
//   debugfs root                     -> the sysctl node `debug` (CTL_DEBUG)
//   debugfs_create_dir(name, parent) -> sysctl_add_oid(CTLTYPE_NODE) under the parent's node
//   debugfs_create_file(simple attr) -> a CTLTYPE_U64 leaf whose handler calls get(data)
//                                       (and set(data, v) on a write, if mode has a w bit)
//   debugfs_remove_recursive         -> sysctl_remove_oid(del=1, recurse=1)
//
// So kvm's statistics directory "kvm" becomes debug.kvm, its file "exits" the OID
// debug.kvm.exits, and a per-VM directory "1234-5" the node debug.kvm.1234-5.
//
// DIVERGENCE: a debugfs file is a sysctl OID, not a file. Userspace reads it with the
// __sysctlbyname(2) system call (FreeBSD 570), not open/read under /sys/kernel/debug;
// the value comes back as a binary little-endian u64 (8 bytes), not as the text that
// the attribute's fmt would produce, so the format ("%llu\n", "%lld\n", "0x%llx\n", ...)
// is the reader's business (a negative "%lld" value reads as its two's complement).
// Chosen over a CTLTYPE_STRING leaf because a counter is a number to every sysctl(8)
// consumer, and because it is what FreeBSD's own statistics (vm.stats.*) do.
// DIVERGENCE: a name with a '.' (legal in debugfs) cannot be an OID name, so
// debugfs_create_* returns NULL for it, with a message, as for any bad name.
// DIVERGENCE: debugfs_remove_recursive unlinks at once but does not wait for a read in
// flight (Linux waits via debugfs_file_get/SRCU); the read finishes with the value it
// got from the module, and no read starts after removal.
//
// Locking: the MIB is edited by synchronous code only; the calls may sleep in Linux
// (might_sleep), and are checked the same way here.

import { printf } from "../../host-freebsd/kern/subr_prf.js";
import { sysctl_add_node, sysctl_add_oid, sysctl_find_oid, sysctl_handle_64_proc, sysctl_remove_oid, sysctl_valid_name } from "../../host-freebsd/kern/kern_sysctl.js";
import { CTLFLAG_MPSAFE, CTLFLAG_RD, CTLFLAG_RW, CTLTYPE, CTLTYPE_NODE, CTLTYPE_U64, type sysctl_oid } from "../../host-freebsd/sys/sysctl.js";
import type { dentry, simple_attribute } from "../linux/debugfs_types.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";
import { linux_to_bsd_errno } from "./linux_errno.js";
import { linux_might_sleep } from "./linux_schedule.js";

/** The sysctl node under which the debugfs root's children appear. */
export const LINUX_DEBUGFS_SYSCTL_ROOT = "debug";

/** A Linux dentry as the shim hands it out: the OID it became. */
export class linux_debugfs_dentry implements dentry {
  constructor(
    readonly d_name: string,
    readonly oid: sysctl_oid,
  ) {}
}

/** The parent's node, or null (with the message Linux prints). */
function parent_node(name: string, parent: dentry | null): sysctl_oid | null {
  const node = parent === null ? sysctl_find_oid(LINUX_DEBUGFS_SYSCTL_ROOT) : parent instanceof linux_debugfs_dentry ? parent.oid : null;
  if (node === null || node.removed || (node.oid_kind & CTLTYPE) !== CTLTYPE_NODE) {
    printf(`debugfs: Directory '${name}' with parent '${parent?.d_name ?? "/"}' cannot be used\n`);
    return null;
  }
  if (!sysctl_valid_name(name)) {
    printf(`debugfs: Bad name '${name}'\n`);
    return null;
  }
  if (node.oid_children.has(name)) {
    printf(`debugfs: File '${name}' in directory '${parent?.d_name ?? "/"}' already present!\n`);
    return null;
  }
  return node;
}

export function linux_debugfs_create_dir(_s: linuxkpi_state, name: string, parent: dentry | null): dentry | null {
  linux_might_sleep("debugfs_create_dir");
  const node = parent_node(name, parent);
  if (node === null) return null;
  const oid = sysctl_add_node(node, name, `debugfs directory ${name}`);
  return oid === null ? null : new linux_debugfs_dentry(name, oid);
}

export function linux_debugfs_create_file(_s: linuxkpi_state, name: string, mode: number, parent: dentry | null, data: unknown, fops: simple_attribute): dentry | null {
  linux_might_sleep("debugfs_create_file");
  if (typeof fops?.get !== "function") {
    printf(`debugfs: '${name}': only DEFINE_SIMPLE_ATTRIBUTE files are implemented by linuxkpi\n`);
    return null;
  }
  const node = parent_node(name, parent);
  if (node === null) return null;
  const writable = (mode & 0o222) !== 0 && typeof fops.set === "function";
  let oid: sysctl_oid | null = null;
  const handler = sysctl_handle_64_proc(
    async () => await fops.get(data),
    writable
      ? async (v) => {
          const r = await fops.set!(data, v);
          return r < 0 ? linux_to_bsd_errno(-r) : 0;
        }
      : null,
  );
  oid = sysctl_add_oid(node, name, CTLTYPE_U64 | CTLFLAG_MPSAFE | (writable ? CTLFLAG_RW : CTLFLAG_RD), data, handler, `debugfs file ${name}`);
  return oid === null ? null : new linux_debugfs_dentry(name, oid);
}

export function linux_debugfs_remove_recursive(_s: linuxkpi_state, d: dentry | null): void {
  if (d === null) return;
  linux_might_sleep("debugfs_remove_recursive");
  if (!(d instanceof linux_debugfs_dentry)) return;
  sysctl_remove_oid(d.oid);
}

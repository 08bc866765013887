// sys/kern/kern_sysctl.c: the MIB tree, dynamic OIDs (sysctl_add_oid /
// sysctl_remove_oid) and the __sysctlbyname(2) system call (FreeBSD 13, number 570).
//
// Only what the model needs: the static top-level nodes kern, vm, hw, debug and compat, nodes
// and leaves added at run time by modules, lookup by dotted name, 64-bit and string
// leaves. The numeric interface (__sysctl with int[] names, the {0,2} "next" walk) is
// not modelled.
//
// Locking: the tree is edited only by synchronous code between sleeps (SYSCTL_XLOCK is
// implicit); a handler may sleep; oid_running counts the handlers in flight.

import { copyin, copyout } from "../amd64/support.js";
import { curkernel } from "../sys/pcpu.js";
import type { thread } from "../sys/proc.js";
import type { kernel } from "../sys/kernel.js";
import { EINVAL, EISDIR, ENOENT, ENOMEM, ENOTDIR, EPERM, EFAULT } from "../sys/errno.js";
import {
  CTLFLAG_RD, CTLFLAG_WR, CTLTYPE, CTLTYPE_NODE, CTLTYPE_STRING, CTL_AUTO_START, type sysctl_handler_t, type sysctl_oid,
  type sysctl_req, type sysctl_state,
} from "../sys/sysctl.js";
import { tsleep, wakeup } from "./kern_synch.js";

const MAXPATHLEN = 1024;

function new_oid(parent: sysctl_oid | null, name: string, number: number, kind: number, handler: sysctl_handler_t | null, arg1: unknown, descr: string): sysctl_oid {
  return { oid_parent: parent, oid_name: name, oid_number: number, oid_kind: kind, oid_arg1: arg1, oid_handler: handler, oid_descr: descr, oid_children: new Map(), oid_running: 0, removed: false };
}

/** The kernel's MIB (created with its static nodes on first use: CTL_KERN 1, CTL_VM 2,
 *  CTL_HW 6, CTL_DEBUG 5). */
export function sysctl_state_of(k: kernel = curkernel()): sysctl_state {
  let st = k.sysctl;
  if (st === null) {
    const root = new_oid(null, "", 0, CTLTYPE_NODE | CTLFLAG_RD, null, null, "");
    for (const [n, num] of [["kern", 1], ["vm", 2], ["debug", 5], ["hw", 6]] as const) {
      root.oid_children.set(n, new_oid(root, n, num, CTLTYPE_NODE | CTLFLAG_RD, null, null, ""));
    }
    const ostype = new_oid(root.oid_children.get("kern")!, "ostype", 1, CTLTYPE_STRING | CTLFLAG_RD, sysctl_handle_string, "FreeBSD", "Operating system type");
    root.oid_children.get("kern")!.oid_children.set("ostype", ostype);
    st = { root, next_oid_number: CTL_AUTO_START };
    // kern_mib.c: SYSCTL_ROOT_NODE(OID_AUTO, compat, ...), home of compat.linuxkpi.
    root.oid_children.set("compat", new_oid(root, "compat", st.next_oid_number++, CTLTYPE_NODE | CTLFLAG_RD, null, null, "Compatibility code"));
    k.sysctl = st;
  }
  return st;
}

/** The static node or leaf at a dotted name, or null. */
export function sysctl_find_oid(name: string, k: kernel = curkernel()): sysctl_oid | null {
  let o: sysctl_oid = sysctl_state_of(k).root;
  for (const c of name.split(".")) {
    const next = o.oid_children.get(c);
    if (next === undefined) return null;
    o = next;
  }
  return o;
}

/** A valid OID name: non-empty, no dot (the separator), printable. */
export const sysctl_valid_name = (name: string): boolean => name.length > 0 && name.length < 256 && !name.includes(".") && !/[\s\x00-\x1f]/.test(name);

/** sysctl_add_oid(9) with OID_AUTO: a new child of `parent` (a node). null when the
 *  parent is not a live node, the name is invalid, or a child of that name exists
 *  (the real one reports "can't re-use a leaf" and returns NULL). */
export function sysctl_add_oid(parent: sysctl_oid, name: string, kind: number, arg1: unknown, handler: sysctl_handler_t | null, descr: string, k: kernel = curkernel()): sysctl_oid | null {
  if (parent.removed || (parent.oid_kind & CTLTYPE) !== CTLTYPE_NODE || !sysctl_valid_name(name)) return null;
  if (parent.oid_children.has(name)) return null;
  const st = sysctl_state_of(k);
  const o = new_oid(parent, name, st.next_oid_number++, kind, handler, arg1, descr);
  parent.oid_children.set(name, o);
  return o;
}

/** SYSCTL_ADD_NODE. */
export const sysctl_add_node = (parent: sysctl_oid, name: string, descr: string): sysctl_oid | null =>
  sysctl_add_oid(parent, name, CTLTYPE_NODE | CTLFLAG_RD, null, null, descr);

/** sysctl_remove_oid(oidp, del=1, recurse=1): unlink the OID and everything below it.
 *  Removing a removed OID is a no-op. A handler already running finishes (its OID is
 *  marked removed, so nothing new reaches it); the real one sleeps on oid_running
 *  instead, which a caller that must not sleep can follow with sysctl_wait_oid. */
export function sysctl_remove_oid(oidp: sysctl_oid): void {
  if (oidp.removed || oidp.oid_parent === null) return;
  oidp.oid_parent.oid_children.delete(oidp.oid_name);
  const walk = (o: sysctl_oid): void => {
    for (const c of o.oid_children.values()) walk(c);
    o.oid_children.clear();
    o.removed = true;
  };
  walk(oidp);
}

/** Sleep until no handler of `oidp` runs (the wait half of sysctl_remove_oid). */
export async function sysctl_wait_oid(oidp: sysctl_oid): Promise<void> {
  while (oidp.oid_running > 0) await tsleep(oidp, 0, "oidrm", 0);
}

/** SYSCTL_OUT: copy to the caller's old buffer what fits; ENOMEM when it did not all fit. */
export function SYSCTL_OUT(req: sysctl_req, b: Uint8Array): number {
  const at = req.oldidx;
  req.oldidx += b.length;
  if (req.oldptr === 0) return 0;
  const room = Math.max(0, req.oldlen - at);
  const n = Math.min(room, b.length);
  if (n > 0 && copyout(b, req.oldptr + at, n) !== 0) return EFAULT;
  return n < b.length ? ENOMEM : 0;
}

/** SYSCTL_IN: exactly b.length bytes of the caller's new value. */
export function SYSCTL_IN(req: sysctl_req, b: Uint8Array): number {
  if (req.newlen - req.newidx < b.length) return EINVAL;
  if (copyin(req.newptr + req.newidx, b, b.length) !== 0) return EFAULT;
  req.newidx += b.length;
  return 0;
}

/** sysctl_handle_string for a read-only string in arg1 (NUL included). */
export async function sysctl_handle_string(_oidp: sysctl_oid, arg1: unknown, req: sysctl_req): Promise<number> {
  return SYSCTL_OUT(req, new TextEncoder().encode(String(arg1) + "\0"));
}

/** A 64-bit leaf read through get() and written through set() (sysctl_handle_64 over a
 *  procedure instead of a variable). */
export function sysctl_handle_64_proc(get: () => Promise<bigint>, set: ((v: bigint) => Promise<number>) | null): sysctl_handler_t {
  return async (_oidp, _arg1, req) => {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, await get()), true);
    const e = SYSCTL_OUT(req, out);
    if (e !== 0 || req.newptr === 0) return e;
    if (set === null) return EPERM;
    const inb = new Uint8Array(8);
    const e2 = SYSCTL_IN(req, inb);
    if (e2 !== 0) return e2;
    return set(new DataView(inb.buffer).getBigUint64(0, true));
  };
}

/** sysctl_root: find the OID, check access, run the handler. */
export async function kernel_sysctlbyname_req(name: string, req: sysctl_req): Promise<number> {
  if (name.length === 0) return ENOENT;
  let o: sysctl_oid = sysctl_state_of().root;
  for (const c of name.split(".")) {
    if ((o.oid_kind & CTLTYPE) !== CTLTYPE_NODE) return ENOTDIR;
    const next = o.oid_children.get(c);
    if (next === undefined) return ENOENT;
    o = next;
  }
  if ((o.oid_kind & CTLTYPE) === CTLTYPE_NODE && o.oid_handler === null) return EISDIR;
  if (req.newptr !== 0 && (o.oid_kind & CTLFLAG_WR) === 0) return EPERM;
  if (o.oid_handler === null) return ENOENT;
  o.oid_running++;
  try {
    return await o.oid_handler(o, o.oid_arg1, req);
  } finally {
    if (--o.oid_running === 0) wakeup(o);
  }
}

/** sys___sysctlbyname(td, name, namelen, old, oldlenp, new, newlen). The name is
 *  namelen bytes (no NUL needed). *oldlenp is the old buffer's size on entry and the
 *  bytes produced on return (also on ENOMEM, as sys___sysctl does). */
export async function sys___sysctlbyname(td: thread, name: number, namelen: number, old: number, oldlenp: number, newp: number, newlen: number): Promise<number> {
  // kern___sysctlbyname: namelen is a size_t, 1..MAXPATHLEN.
  if (namelen <= 0 || namelen > MAXPATHLEN) return EINVAL;
  const nb = new Uint8Array(namelen);
  if (copyin(name, nb, namelen) !== 0) return EFAULT;
  let str = new TextDecoder().decode(nb);
  const nul = str.indexOf("\0");
  if (nul >= 0) str = str.slice(0, nul);
  let oldlen = 0;
  if (oldlenp !== 0) {
    const lb = new Uint8Array(8);
    if (copyin(oldlenp, lb, 8) !== 0) return EFAULT;
    oldlen = Number(new DataView(lb.buffer).getBigUint64(0, true));
  }
  const req: sysctl_req = { oldptr: oldlenp === 0 ? 0 : old, oldlen, oldidx: 0, newptr: newp, newlen, newidx: 0 };
  const error = await kernel_sysctlbyname_req(str, req);
  if (error !== 0 && error !== ENOMEM) return error;
  if (oldlenp !== 0) {
    const rv = req.oldptr !== 0 && req.oldidx > req.oldlen ? req.oldlen : req.oldidx;
    const lb = new Uint8Array(8);
    new DataView(lb.buffer).setBigUint64(0, BigInt(rv), true);
    if (copyout(lb, oldlenp, 8) !== 0) return EFAULT;
  }
  td.td_retval[0] = 0n;
  return error;
}

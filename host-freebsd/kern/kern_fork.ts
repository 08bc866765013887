// sys/kern/kern_fork.c, reduced: fork1 creates a child process of the calling thread's
// process with a fresh address space (vmspace_alloc: its own PML4) and an empty
// descriptor table; its first thread runs `body` once scheduled. (The model's parents
// are kernel threads, so there is nothing to copy.)

import { curkernel, curthread } from "../sys/pcpu.js";
import { ENOMEM } from "../sys/errno.js";
import { proc, type thread } from "../sys/proc.js";
import { fdinit } from "./kern_descrip.js";
import { thread_create } from "./kern_thread.js";
import { sched_add } from "./sched_ule.js";
import { vmspace_alloc } from "../vm/vm_map.js";

export function fork1(comm: string, body: (td: thread) => Promise<void>): { error: number; p: proc | null } {
  const k = curkernel();
  const parent = curthread().td_proc;
  const vs = vmspace_alloc(k);
  if (vs === null) return { error: ENOMEM, p: null };
  const p = new proc(k.next_pid++, comm);
  p.p_vmspace = vs;
  p.p_fd = fdinit();
  p.p_pptr = parent;
  parent.p_children.push(p);
  k.allproc.push(p);
  const td: thread = thread_create(k, p, comm, () => body(td));
  td.td_lastcpu = curthread().td_lastcpu;
  p.p_state = "PRS_NORMAL";
  sched_add(k, td);
  return { error: 0, p };
}

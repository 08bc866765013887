// Threads of a user process: thr_new, thr_exit, thr_self, thr_kill and _umtx_op, and
// how exit and signals take a multi-threaded process down.

import { describe, expect, it } from "vitest";
import { CapturePipe } from "../../machine/host_pipe.js";
import { syscall_with_entry, user_load, user_store } from "../../machine/syscall.js";
import { run_main } from "./helpers.js";
import { umem, sys, write, getpid, kill, exit } from "./ulibc.js";
import { SYS_thr_new, SYS_thr_exit, SYS_thr_self, SYS_thr_kill, SYS_umtx_op, SYS_sched_yield } from "../../host-freebsd/sys/syscall.js";
import { UMTX_OP_WAIT, UMTX_OP_WAIT_UINT_PRIVATE, UMTX_OP_WAKE_PRIVATE } from "../../host-freebsd/kern/kern_umtx.js";
import { THR_PARAM_SIZE } from "../../host-freebsd/kern/kern_thr.js";
import { EINTR, EINVAL, ETIMEDOUT, ESRCH } from "../../host-freebsd/sys/errno.js";
import { SIGKILL, SIGSEGV, SIGUSR1 } from "../../host-freebsd/sys/signal.js";
import { fork_exec } from "../../host-freebsd/kern/kern_exec.js";
import { kern_wait } from "../../host-freebsd/kern/kern_exit.js";
import { kern_kill } from "../../host-freebsd/kern/kern_sig.js";
import { pause } from "../../host-freebsd/kern/kern_synch.js";
import { curthread } from "../../host-freebsd/sys/pcpu.js";
import type { UserProgram } from "../../host-freebsd/kern/kern_exec.js";

const rd64 = (a: number) => {
  const b = new Uint8Array(8);
  user_load(a, b);
  return new DataView(b.buffer).getBigInt64(0, true);
};
const wr32 = (a: number, v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  user_store(a, b);
};

/** pthread_create: thr_new with child_tid/parent_tid at tidp. */
async function thr_create(m: umem, tidp: number, body: () => Promise<number>) {
  const param = m.alloc(THR_PARAM_SIZE);
  const b = new Uint8Array(THR_PARAM_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(48, BigInt(tidp), true);
  v.setBigUint64(56, BigInt(tidp), true);
  user_store(param, b);
  const r = await syscall_with_entry(SYS_thr_new, body, param, THR_PARAM_SIZE);
  return r.carry ? Number(r.rax) : 0;
}

const umtx_wait_uint = (addr: number, val: number, ts = 0, tslen = 0) => sys(SYS_umtx_op, addr, UMTX_OP_WAIT_UINT_PRIVATE, val, tslen, ts);
const umtx_wake = (addr: number, n: number) => sys(SYS_umtx_op, addr, UMTX_OP_WAKE_PRIVATE, n, 0, 0);

async function run(prog: UserProgram) {
  const { result } = await run_main(async (b) => {
    const before = b.kern.free_page_count();
    const out = new CapturePipe();
    const st = await b.kern.run_process("thr", prog, out, out);
    return { st, out: out.text(), leak: before - b.kern.free_page_count() };
  });
  return result;
}

describe("user threads", () => {
  it("thr_new runs a second thread; tids; join through thr_exit's state word and umtx", async () => {
    const r = await run(async () => {
      const m = await umem.create();
      const tidp = m.alloc(8);
      const state = m.alloc(8);
      const flag = m.alloc(4);
      const self = m.alloc(8);
      await sys(SYS_thr_self, self);
      const main_tid = rd64(self);
      const e = await thr_create(m, tidp, async () => {
        const s = new TextEncoder().encode("child runs\n");
        await write(1, m.bytes(s), s.length);
        wr32(flag, 1);
        await umtx_wake(flag, 1);
        await sys(SYS_thr_exit, state);
        return 99;
      });
      if (e !== 0) return 10;
      const child = rd64(tidp);
      while (rd64(state) === 0n) await sys(SYS_umtx_op, state, UMTX_OP_WAIT, 0, 0, 0);
      const s = new TextEncoder().encode(`joined ${child !== main_tid && child > 0n}\n`);
      await write(1, m.bytes(s), s.length);
      return 0;
    });
    expect(r).toEqual({ st: { exit_code: 0, signal: null }, out: "child runs\njoined true\n", leak: 0 });
  });

  it("umtx: a changed word returns at once, a timeout is ETIMEDOUT, bad ops EINVAL", async () => {
    const r = await run(async () => {
      const m = await umem.create();
      const w = m.alloc(4);
      const ts = m.alloc(16);
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigInt64(8, 3_000_000n, true);
      user_store(ts, b);
      wr32(w, 5);
      const res = [(await umtx_wait_uint(w, 4)).err, (await umtx_wait_uint(w, 5, ts, 16)).err, (await sys(SYS_umtx_op, w, 999, 0, 0, 0)).err];
      return res.join() === [0, ETIMEDOUT, EINVAL].join() ? 0 : 1;
    });
    expect(r.st.exit_code).toBe(0);
  });

  it("exit from main takes a thread sleeping in umtx down with it", async () => {
    const r = await run(async () => {
      const m = await umem.create();
      const w = m.alloc(4);
      await thr_create(m, m.alloc(8), async () => {
        await umtx_wait_uint(w, 0);
        return 0;
      });
      await sys(SYS_sched_yield);
      await exit(3);
      return 0;
    });
    expect(r).toEqual({ st: { exit_code: 3, signal: null }, out: "", leak: 0 });
  });

  it("returning from the last thread's start routine exits the process with 0", async () => {
    const r = await run(async () => {
      const m = await umem.create();
      await thr_create(m, m.alloc(8), async () => {
        await sys(SYS_sched_yield);
        return 5;
      });
      // The main thread leaves first (thr_exit is ignored only for the last thread).
      await sys(SYS_thr_exit, 0);
      return 1;
    });
    expect(r).toEqual({ st: { exit_code: 0, signal: null }, out: "", leak: 0 });
  });

  it("thr_kill interrupts one thread's wait with EINTR; ESRCH for a bad tid", async () => {
    const r = await run(async () => {
      const m = await umem.create();
      const w = m.alloc(4);
      const tidp = m.alloc(8);
      const res = m.alloc(4);
      wr32(res, 0xff);
      const done = m.alloc(4);
      await thr_create(m, tidp, async () => {
        const e = await umtx_wait_uint(w, 0);
        wr32(res, e.err);
        wr32(done, 1);
        await umtx_wake(done, 1);
        return 0;
      });
      while (rd64(tidp) === 0n) await sys(SYS_sched_yield);
      for (let i = 0; i < 5; i++) await sys(SYS_sched_yield);
      const bad = (await sys(SYS_thr_kill, 12345, SIGUSR1)).err;
      await sys(SYS_thr_kill, rd64(tidp), SIGUSR1);
      while (new DataView(new Uint8Array(user_load_n(done, 4)).buffer).getUint32(0, true) === 0) await umtx_wait_uint(done, 0);
      const e = new DataView(user_load_n(res, 4).buffer).getUint32(0, true);
      return e === EINTR && bad === ESRCH ? 0 : 100 + e;
    });
    expect(r.st.exit_code).toBe(0);
  });

  it("SIGKILL kills every thread; a fault in any thread is SIGSEGV for the process", async () => {
    const { result } = await run_main(async (b) => {
      const out = new CapturePipe();
      const before = b.kern.free_page_count();
      const f = fork_exec("victim", async () => {
        const m = await umem.create();
        const w = m.alloc(4);
        await thr_create(m, m.alloc(8), async () => (await umtx_wait_uint(w, 0)).err);
        await umtx_wait_uint(w, 0);
        return 0;
      }, out, out);
      await pause("w", 3);
      kern_kill(curthread(), f.p!.p_pid, SIGKILL);
      const killed = (await kern_wait(f.p!.p_pid)).p!.p_xsig;
      const g = fork_exec("faulty", async () => {
        const m = await umem.create();
        await thr_create(m, m.alloc(8), async () => {
          user_load(0x1234_5000, new Uint8Array(1));
          return 0;
        });
        for (;;) await sys(SYS_sched_yield);
      }, out, out);
      const faulted = (await kern_wait(g.p!.p_pid)).p!.p_xsig;
      return { killed, faulted, leak: before - b.kern.free_page_count() };
    });
    expect(result).toEqual({ killed: SIGKILL, faulted: SIGSEGV, leak: 0 });
  });

  it("thr_new without a start routine is EINVAL; kill(getpid()) still works", async () => {
    const r = await run(async () => {
      const m = await umem.create();
      const p = m.alloc(THR_PARAM_SIZE);
      const e = (await sys(SYS_thr_new, p, THR_PARAM_SIZE)).err;
      const pid = (await getpid()).val;
      return e === EINVAL && (await kill(pid, 0)).err === 0 ? 0 : 1;
    });
    expect(r.st.exit_code).toBe(0);
  });
});

function user_load_n(a: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  user_load(a, b);
  return b;
}

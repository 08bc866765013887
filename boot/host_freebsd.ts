// boot/ adapter for host-freebsd (filled in when host-freebsd lands).
import type { Machine } from "../machine/engine.js";
import type { HostKernel } from "./host_kernel.js";

export function boot_freebsd(_machine: Machine): HostKernel {
  throw new Error("host-freebsd is not wired yet");
}

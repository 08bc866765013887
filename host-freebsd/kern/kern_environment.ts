// sys/kern/kern_environment.c: the kernel environment. The loader (loader.conf) and
// kenv(1) put name=value strings there; drivers read them as tunables when they load
// (TUNABLE_INT_FETCH, CTLFLAG_TUN sysctls). `kenv compat.linuxkpi.kvm_enable_ept=1`
// before `kldload kvm` is how a LinuxKPI module gets a module parameter.

import { curkernel } from "../sys/pcpu.js";
import type { kernel } from "../sys/kernel.js";

/** KENV_MNAMELEN / KENV_MVALLEN: longest name and value. */
export const KENV_MNAMELEN = 128;
export const KENV_MVALLEN = 128;

export function kern_setenv(name: string, value: string, k: kernel = curkernel()): number {
  if (name.length === 0 || name.length >= KENV_MNAMELEN || value.length >= KENV_MVALLEN || name.includes("=")) return -1;
  k.kenv.set(name, value);
  return 0;
}

export function kern_getenv(name: string, k: kernel = curkernel()): string | null {
  return k.kenv.get(name) ?? null;
}

export function kern_unsetenv(name: string, k: kernel = curkernel()): number {
  return k.kenv.delete(name) ? 0 : -1;
}

/**
 * getenv_quad: the variable as a 64-bit integer: strtoq(base 0) with an optional
 * k/m/g/t suffix (powers of 1024). Returns null when the variable is unset or is not
 * such a number (FreeBSD returns 0 and leaves the destination alone).
 */
export function getenv_quad(name: string, k: kernel = curkernel()): bigint | null {
  const v = kern_getenv(name, k);
  if (v === null) return null;
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtT]?)$/.exec(v);
  if (m === null) return null;
  const body = m[2];
  let q = /^0[xX]/.test(body) ? BigInt(body) : body.length > 1 ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
  const shift = { "": 0n, k: 10n, m: 20n, g: 30n, t: 40n }[m[3].toLowerCase() as "" | "k" | "m" | "g" | "t"];
  q <<= shift;
  return m[1] === "-" ? -q : q;
}

/** getenv_int: as getenv_quad, for a value that fits an int. */
export function getenv_int(name: string, k: kernel = curkernel()): number | null {
  const q = getenv_quad(name, k);
  if (q === null || q < -0x80000000n || q > 0x7fffffffn) return null;
  return Number(q);
}

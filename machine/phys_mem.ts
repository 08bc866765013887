// Physical RAM: an array of 4 KiB frames, each backed by a zeroed buffer the first
// time anything touches it, so a 4 GiB machine costs nothing until used.
// RAM knows nothing of who owns a frame; the kernels' allocators decide that.

import { PAGE_SHIFT, PAGE_SIZE, PAGE_MASK, type Hpa, type Pfn } from "./addr.js";

export class MachineCheck extends Error {
  constructor(message: string) {
    super(`machine check: ${message}`);
    this.name = "MachineCheck";
  }
}

export class PhysMem {
  readonly npages: number;
  private readonly frames: (Uint8Array | undefined)[];
  private touched = 0;

  constructor(readonly size_bytes: number) {
    if (size_bytes <= 0 || size_bytes % PAGE_SIZE !== 0)
      throw new RangeError(`RAM size ${size_bytes} is not a positive multiple of ${PAGE_SIZE}`);
    // An i386-class PC without PAE addresses 4 GiB; the >>> shifts below rely on it.
    if (size_bytes > 2 ** 32) throw new RangeError(`RAM size ${size_bytes} exceeds 4 GiB`);
    this.npages = size_bytes / PAGE_SIZE;
    this.frames = new Array(this.npages);
  }

  /** Number of frames that have a backing buffer (for tests of lazy backing). */
  get backed_frames(): number {
    return this.touched;
  }

  has(p: Pfn): boolean {
    return p >= 0 && p < this.npages;
  }

  /** The bytes of one frame. A frame outside RAM is a machine check. */
  frame(p: Pfn): Uint8Array {
    let f = this.frames[p];
    if (f === undefined) {
      if (!(p >= 0 && p < this.npages) || !Number.isInteger(p))
        throw new MachineCheck(`physical frame ${p} beyond RAM (${this.npages} frames)`);
      f = new Uint8Array(PAGE_SIZE);
      this.frames[p] = f;
      this.touched++;
    }
    return f;
  }

  read8(a: Hpa): number {
    return this.frame((a >>> PAGE_SHIFT) as Pfn)[a & PAGE_MASK];
  }
  write8(a: Hpa, v: number): void {
    this.frame((a >>> PAGE_SHIFT) as Pfn)[a & PAGE_MASK] = v;
  }
  read16(a: Hpa): number {
    return this.read8(a) | (this.read8((a + 1) as Hpa) << 8);
  }
  read32(a: Hpa): number {
    return (this.read16(a) | (this.read16((a + 2) as Hpa) << 16)) >>> 0;
  }
  read64(a: Hpa): bigint {
    return BigInt(this.read32(a)) | (BigInt(this.read32((a + 4) as Hpa)) << 32n);
  }
  write16(a: Hpa, v: number): void {
    this.write8(a, v & 0xff);
    this.write8((a + 1) as Hpa, (v >>> 8) & 0xff);
  }
  write32(a: Hpa, v: number): void {
    this.write16(a, v & 0xffff);
    this.write16((a + 2) as Hpa, (v >>> 16) & 0xffff);
  }
  write64(a: Hpa, v: bigint): void {
    this.write32(a, Number(v & 0xffffffffn));
    this.write32((a + 4) as Hpa, Number((v >> 32n) & 0xffffffffn));
  }

  /** Copy bytes out of RAM, across frame boundaries. */
  read(a: Hpa, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const at = a + done;
      const off = at & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - off, dst.length - done);
      dst.set(this.frame(Math.floor(at / PAGE_SIZE) as Pfn).subarray(off, off + n), done);
      done += n;
    }
  }

  /** Copy bytes into RAM, across frame boundaries. */
  write(a: Hpa, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const at = a + done;
      const off = at & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - off, src.length - done);
      this.frame(Math.floor(at / PAGE_SIZE) as Pfn).set(src.subarray(done, done + n), off);
      done += n;
    }
  }

  fill(a: Hpa, len: number, v: number): void {
    let done = 0;
    while (done < len) {
      const at = a + done;
      const off = at & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - off, len - done);
      this.frame(Math.floor(at / PAGE_SIZE) as Pfn).fill(v, off, off + n);
      done += n;
    }
  }
}

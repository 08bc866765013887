// A byte channel from the simulated machine to the real world outside it (the
// terminal the lkvm command runs in). Kernels attach their console and the first
// process's standard streams to these; nothing else in the simulation touches
// Node's own streams.

export interface HostPipe {
  write(bytes: Uint8Array): void;
}

/** A pipe that keeps what was written, for tests. */
export class CapturePipe implements HostPipe {
  private readonly chunks: Uint8Array[] = [];
  write(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
  }
  bytes(): Uint8Array {
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

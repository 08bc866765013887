// sys/kern/subr_msgbuf.c: the kernel message buffer dmesg(8) reads. A ring of
// msg_size bytes; the oldest text is overwritten when it fills.

export class msgbuf {
  private buf = "";
  constructor(readonly msg_size = 96 * 1024) {}

  msgbuf_addstr(s: string): void {
    this.buf += s;
    if (this.buf.length > this.msg_size) this.buf = this.buf.slice(this.buf.length - this.msg_size);
  }

  msgbuf_getbytes(): string {
    return this.buf;
  }
}

// sys/compat/linuxkpi/common/include/linux/delay.h: Linux's busy-wait delays are
// FreeBSD's DELAY(9), which counts microseconds.
//   udelay(n) -> DELAY(n)
//   ndelay(n) -> DELAY(howmany(n, 1000))   (rounded up to a microsecond)
//   mdelay(n) -> DELAY(n * 1000), a second at a time

import { DELAY } from "../../host-freebsd/amd64/delay.js";

export const linux_udelay = (usecs: number): Promise<void> => DELAY(usecs);
export const linux_ndelay = (nsecs: number): Promise<void> => DELAY(Math.ceil(nsecs / 1000));

export async function linux_mdelay(msecs: number): Promise<void> {
  for (; msecs > 1000; msecs -= 1000) await DELAY(1000 * 1000);
  if (msecs > 0) await DELAY(msecs * 1000);
}

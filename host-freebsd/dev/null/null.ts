// sys/dev/null/null.c: /dev/null (reads see end of file, writes vanish) and /dev/zero.

import { D_VERSION, type cdevsw } from "../../sys/conf.js";
import { make_dev } from "../../kern/kern_conf.js";

export const null_cdevsw: cdevsw = {
  d_version: D_VERSION,
  d_name: "null",
  async d_read(_dev, _buf, _ioflag, td) {
    td.td_retval[0] = 0n;
    return 0;
  },
  async d_write(_dev, buf, _ioflag, td) {
    td.td_retval[0] = BigInt(buf.length);
    return 0;
  },
};

export const zero_cdevsw: cdevsw = {
  d_version: D_VERSION,
  d_name: "zero",
  async d_read(_dev, buf, _ioflag, td) {
    buf.fill(0);
    td.td_retval[0] = BigInt(buf.length);
    return 0;
  },
  async d_write(_dev, buf, _ioflag, td) {
    td.td_retval[0] = BigInt(buf.length);
    return 0;
  },
};

/** null_modevent(MOD_LOAD). */
export function null_modevent_load(): void {
  make_dev(null_cdevsw, 0, 0, 0, 0o666, "null");
  make_dev(zero_cdevsw, 0, 0, 0, 0o666, "zero");
}

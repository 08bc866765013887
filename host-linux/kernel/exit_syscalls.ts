// kernel/exit.c: exit(2) and exit_group(2) (a process has one thread in this model).

import type { linux_kernel } from "../init/main.js";
import { do_exit } from "./exit.js";

export const sys_exit = (k: linux_kernel, error_code: number): Promise<never> => do_exit(k, (error_code & 0xff) << 8);
export const sys_exit_group = (k: linux_kernel, error_code: number): Promise<never> => do_exit(k, (error_code & 0xff) << 8);

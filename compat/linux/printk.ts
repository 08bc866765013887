// include/linux/printk.h.

import { linux_api } from "./export.js";

export const KERN_EMERG = "<0>";
export const KERN_ERR = "<3>";
export const KERN_WARNING = "<4>";
export const KERN_NOTICE = "<5>";
export const KERN_INFO = "<6>";
export const KERN_DEBUG = "<7>";

export const printk = (level: string, msg: string): void => linux_api().printk(level, msg);
export const pr_err = (msg: string): void => printk(KERN_ERR, msg);
export const pr_warn = (msg: string): void => printk(KERN_WARNING, msg);
export const pr_info = (msg: string): void => printk(KERN_INFO, msg);
export const pr_debug = (msg: string): void => printk(KERN_DEBUG, msg);

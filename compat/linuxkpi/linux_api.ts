// The linux_kernel_api table (compat/linux/export.ts) as the shim implements it: each
// entry calls the linux_* function of the LinuxKPI file named after it, bound to this
// load's state.

import type { linux_kernel_api } from "../linux/export.js";
import type { linuxkpi_state } from "./linuxkpi_state.js";
import {
  linux_alloc_pages, linux_free_pages, linux_get_user_pages_fast, linux_pa, linux_page_address, linux_page_to_pfn, linux_pfn_to_page,
  linux_put_page, linux_va, linux_virt_to_page,
} from "./linux_page.js";
import { linux_kfree, linux_kmalloc, linux_kmem_load, linux_kmem_store, linux_ksize } from "./linux_slab.js";
import {
  linux_down, linux_sema_init, linux_up, linux_mutex_destroy, linux_mutex_init, linux_mutex_lock, linux_mutex_lock_interruptible, linux_mutex_unlock, linux_spin_lock,
  linux_spin_lock_init, linux_spin_unlock,
} from "./linux_lock.js";
import { linux_get_current, linux_signal_pending } from "./linux_current.js";
import {
  linux_complete_common, linux_completion_done, linux_init_completion, linux_msecs_to_jiffies, linux_reinit_completion, linux_try_wait_for_completion,
  linux_wait_for_common, linux_wait_for_timeout_common,
} from "./linux_completion.js";
import {
  linux_cond_resched, linux_irqentry_exit_cond_resched, linux_local_irq_disable, linux_local_irq_enable, linux_might_sleep, linux_need_resched, linux_preempt_disable,
  linux_preempt_enable,
} from "./linux_schedule.js";
import { linux_get_cpu, linux_num_online_cpus, linux_on_each_cpu, linux_put_cpu, linux_smp_call_function_single, linux_smp_processor_id } from "./linux_smp.js";
import { linux_anon_inode_getfd, linux_fget, linux_file_inode, linux_fput, linux_misc_deregister, linux_misc_register } from "./linux_compat.js";
import { linux_copyin, linux_copyout } from "./linux_uaccess.js";
import { linux_vm_mmap, linux_vm_munmap } from "./linux_vm_mmap.js";
import { linux_printk } from "./linux_printk.js";
import { linux_mdelay, linux_ndelay, linux_udelay } from "./linux_delay.js";
import { linux_module_data, linux_module_param_value } from "./linux_module.js";
import { linux_debugfs_create_dir, linux_debugfs_create_file, linux_debugfs_remove_recursive } from "./linux_debugfs.js";

export function linuxkpi_build_api(s: linuxkpi_state): linux_kernel_api {
  return {
    alloc_pages: (gfp, order) => linux_alloc_pages(s, gfp, order),
    __free_pages: (p, order) => linux_free_pages(s, p, order),
    page_address: (p) => linux_page_address(p),
    page_to_pfn: (p) => linux_page_to_pfn(p),
    pfn_to_page: (pfn) => linux_pfn_to_page(s, pfn),
    virt_to_page: (addr) => linux_virt_to_page(s, addr),
    __pa: (addr) => linux_pa(s, addr),
    __va: (addr) => linux_va(addr),
    get_user_pages_fast: (start, nr, write, pages) => linux_get_user_pages_fast(s, start, nr, write, pages),
    put_page: (p) => linux_put_page(s, p),
    vm_mmap: (f, addr, len, prot, flag, offset) => linux_vm_mmap(s, f, addr, len, prot, flag, offset),
    vm_munmap: (start, len) => linux_vm_munmap(s, start, len),

    kmalloc: (size, flags) => linux_kmalloc(s, size, flags),
    kfree: (addr) => linux_kfree(s, addr),
    ksize: (addr) => linux_ksize(addr),
    kmem_load: (addr, dst) => linux_kmem_load(s, addr, dst),
    kmem_store: (addr, src) => linux_kmem_store(s, addr, src),

    spin_lock_init: (lock, name) => linux_spin_lock_init(s, lock, name),
    spin_lock: (lock) => linux_spin_lock(s, lock),
    spin_unlock: (lock) => linux_spin_unlock(s, lock),
    mutex_init: (lock, name) => linux_mutex_init(s, lock, name),
    mutex_lock: (lock) => linux_mutex_lock(lock),
    mutex_lock_interruptible: (lock) => linux_mutex_lock_interruptible(lock),
    mutex_unlock: (lock) => linux_mutex_unlock(lock),
    mutex_destroy: (lock) => linux_mutex_destroy(lock),
    sema_init: (sem, val, name) => linux_sema_init(s, sem, val, name),
    down: (sem) => linux_down(sem),
    up: (sem) => linux_up(sem),
    ndelay: (n) => linux_ndelay(n),
    udelay: (n) => linux_udelay(n),
    mdelay: (n) => linux_mdelay(n),

    init_completion: (x) => linux_init_completion(x),
    reinit_completion: (x) => linux_reinit_completion(x),
    complete: (x) => linux_complete_common(x, false),
    complete_all: (x) => linux_complete_common(x, true),
    wait_for_completion: async (x) => void (await linux_wait_for_common(x, false)),
    wait_for_completion_interruptible: (x) => linux_wait_for_common(x, true),
    wait_for_completion_timeout: (x, timeout) => linux_wait_for_timeout_common(x, timeout, false),
    try_wait_for_completion: (x) => linux_try_wait_for_completion(x),
    completion_done: (x) => linux_completion_done(x),
    msecs_to_jiffies: (m) => linux_msecs_to_jiffies(m),

    get_current: () => linux_get_current(),
    signal_pending: (t) => linux_signal_pending(t),
    cond_resched: () => linux_cond_resched(),
    irqentry_exit_cond_resched: () => linux_irqentry_exit_cond_resched(),
    need_resched: () => linux_need_resched(),
    might_sleep: (where) => linux_might_sleep(where),
    preempt_disable: () => linux_preempt_disable(),
    preempt_enable: () => linux_preempt_enable(),
    local_irq_disable: () => linux_local_irq_disable(),
    local_irq_enable: () => linux_local_irq_enable(),
    get_cpu: () => linux_get_cpu(s),
    put_cpu: () => linux_put_cpu(s),
    smp_processor_id: () => linux_smp_processor_id(),
    num_online_cpus: () => linux_num_online_cpus(),
    on_each_cpu: (func, info, wait) => linux_on_each_cpu(func, info, wait),
    smp_call_function_single: (cpu, func, info, wait) => linux_smp_call_function_single(cpu, func, info, wait),

    misc_register: (misc) => linux_misc_register(s, misc),
    misc_deregister: (misc) => linux_misc_deregister(s, misc),
    anon_inode_getfd: (name, fops, priv, flags) => linux_anon_inode_getfd(s, name, fops, priv, flags),
    fget: (fd) => linux_fget(s, fd),
    fput: (f) => linux_fput(f),
    file_inode: (f) => linux_file_inode(f),

    copy_to_user: (to, from, n) => linux_copyout(to, from, n),
    copy_from_user: (to, from, n) => linux_copyin(to, from, n),

    printk: (level, msg) => linux_printk(level, msg),

    debugfs_create_dir: (name, parent) => linux_debugfs_create_dir(s, name, parent),
    debugfs_create_file: (name, mode, parent, data, fops) => linux_debugfs_create_file(s, name, mode, parent, data, fops),
    debugfs_remove_recursive: (d) => linux_debugfs_remove_recursive(s, d),

    module_data: (name, init) => linux_module_data(s, name, init),

    module_param_value: (module_name, name) => linux_module_param_value(s, module_name, name),
  };
}

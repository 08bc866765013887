// include/linux/debugfs.h, include/linux/fs.h (DEFINE_SIMPLE_ATTRIBUTE): what a module
// sees of debugfs. A dentry is opaque to it: it names a directory to create files in
// and what to remove.

export interface dentry {
  readonly d_name: string;
}

/** The file operations DEFINE_SIMPLE_ATTRIBUTE(fops, get, set, fmt) builds: a file
 *  whose read formats get(data) with fmt (default "%llu\n"; also "%lld\n", "%llx\n",
 *  "0x%llx\n", "0x%08llx\n", "0x%016llx\n") and whose write parses a number (base
 *  prefix as strtoull's base 0) and gives it to set, which returns 0 or -errno. A file
 *  without set refuses writes (EACCES). `data` is the i_private given to
 *  debugfs_create_file. */
export interface simple_attribute {
  get(data: unknown): bigint | Promise<bigint>;
  set?(data: unknown, val: bigint): number | Promise<number>;
  readonly fmt?: string;
}

// include/linux/debugfs.h, include/linux/fs.h (DEFINE_SIMPLE_ATTRIBUTE): what a module
// sees of debugfs. A dentry is opaque: it names a directory to create files in, and what
// to remove.

export interface dentry {
  readonly d_name: string;
}

/** DEFINE_SIMPLE_ATTRIBUTE(fops, get, set, fmt): a file whose read formats get(data)
 *  with fmt (default "%llu\n") and whose write gives a number to set (0 or -errno). */
export interface simple_attribute {
  get(data: unknown): bigint | Promise<bigint>;
  set?(data: unknown, val: bigint): number | Promise<number>;
  readonly fmt?: string;
}

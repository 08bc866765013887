// The layer rule of DESIGN.md: dependencies point down only.
//   userspace -> (system calls via machine/syscall) ; kvm -> compat/linux ;
//   compat/linuxkpi -> host-freebsd -> machine ; host-linux -> machine.
// boot/ is the boot sequence that assembles a world from the layers; only the lkvm
// command (userspace/cli.ts, lkvm.ts), benchmarks and tests may import it.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "machine-is-the-bottom",
      comment: "machine/ is hardware: it knows nothing of kernels, compat, kvm or userspace",
      severity: "error",
      from: { path: "^machine/" },
      to: { path: "^(host-freebsd|host-linux|compat|kvm|userspace|boot)/" },
    },
    {
      name: "host-freebsd-only-on-machine",
      severity: "error",
      from: { path: "^host-freebsd/" },
      to: { path: "^(host-linux|compat|kvm|userspace|boot)/" },
    },
    {
      name: "host-linux-only-on-machine",
      severity: "error",
      from: { path: "^host-linux/" },
      to: { path: "^(host-freebsd|compat|kvm|userspace|boot)/" },
    },
    {
      name: "linux-headers-are-kernel-neutral",
      comment: "compat/linux is the Linux API kvm compiles against; it binds to whichever kernel exports it at run time",
      severity: "error",
      from: { path: "^compat/linux/" },
      to: { path: "^(host-freebsd|host-linux|compat/linuxkpi|kvm|userspace|boot)/" },
    },
    {
      name: "shim-maps-onto-freebsd",
      severity: "error",
      from: { path: "^compat/" },
      to: { path: "^(host-linux|kvm|userspace|boot)/" },
    },
    {
      name: "kvm-only-on-the-linux-api",
      comment: "kvm/ is written only against compat/linux",
      severity: "error",
      from: { path: "^kvm/" },
      to: { path: "^(?!kvm/|compat/linux/|include/uapi/)[^/]+/" },
    },
    {
      name: "userspace-only-through-system-calls",
      comment: "a simulated process reaches the kernel only through the syscall instruction",
      severity: "error",
      from: { path: "^userspace/", pathNot: "^userspace/(lkvm|cli)\\.ts$" },
      to: { path: "^(?!userspace/|include/uapi/|machine/syscall\\.ts$|machine/addr\\.ts$)[^/]+/" },
    },
    {
      name: "uapi-headers-stand-alone",
      comment: "include/uapi is data shared by kernel and userspace: it imports nothing of the layers",
      severity: "error",
      from: { path: "^include/" },
      to: { path: "^(machine|host-freebsd|host-linux|compat|kvm|userspace|boot)/" },
    },
    {
      name: "nobody-imports-boot",
      severity: "error",
      from: { path: "^(machine|host-freebsd|host-linux|compat|kvm)/" },
      to: { path: "^boot/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^dist/|\\.test\\.ts$)" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};

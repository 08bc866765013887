// include/linux/ioctl.h: the Linux encoding, which kvm/ switches on.

export * from "../../include/uapi/asm-generic/ioctl.js";

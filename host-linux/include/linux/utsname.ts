// include/generated/utsrelease.h, compile.h: what uname -r / -v say, and what the
// boot banner and the lockdep and oops reports print (print_kernel_ident).

export const UTS_RELEASE = "2.6.22-lkvm";
export const UTS_VERSION = "#1 SMP";

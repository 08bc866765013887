// include/uapi/asm-generic/signal.h: signal numbers of x86-64 Linux, and the default
// actions of include/linux/signal.h (sig_kernel_ignore, sig_kernel_coredump).

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGURG = 23;
export const SIGWINCH = 28;
export const SIGSYS = 31;
export const _NSIG = 64;

/** Signals whose default action is to do nothing. */
export const sig_kernel_ignore = (sig: number): boolean => sig === SIGCHLD || sig === SIGCONT || sig === SIGURG || sig === SIGWINCH;

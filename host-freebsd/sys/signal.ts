// sys/sys/signal.h: the signals this model delivers.

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGABRT = 6;
export const SIGKILL = 9;
export const SIGBUS = 10;
export const SIGSEGV = 11;
export const SIGSYS = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTOP = 17;
export const SIGURG = 16;
export const SIGCHLD = 20;
export const SIGIO = 23;
export const SIGWINCH = 28;
export const SIGINFO = 29;
export const SIGUSR1 = 30;
export const SIGUSR2 = 31;
export const SIGTHR = 32;
export const _SIG_MAXSIG = 128;

/** Signals whose default action is to ignore them (sigprop SIGPROP_IGNORE). */
export const sig_default_ignore = (sig: number) => [SIGURG, SIGCHLD, SIGIO, SIGWINCH, SIGINFO, SIGTHR].includes(sig);

/* Signals for the `ustack` tool. They are blocked in every thread (the
 * runtime thread inherits the mask) and read from a signalfd by the main
 * thread, so a handler never runs in the middle of the stack. */
#ifndef USTACK_APPS_SIGNALS_H
#define USTACK_APPS_SIGNALS_H

/* Blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in the calling thread (call it
 * before any thread starts), ignores SIGPIPE, and returns a non-blocking
 * signalfd for them, or -1 with errno. */
int signals_open(void);
/* Reads one pending signal from fd: its number, or 0 when none is pending. */
int signals_read(int fd);
/* True for the signals that end the program. */
int signals_is_stop(int signo);

#endif

/* The iperf3 service of `ustack serve`: an iperf3-compatible server on TCP
 * port 5201 (TCP tests, either direction, up to 128 parallel streams, one
 * test at a time as iperf3 itself). It runs entirely on the stack thread
 * through the TCP callback API: received data is drained and counted,
 * reverse tests fill the send buffers from a constant block. */
#ifndef USTACK_APPS_SVC_IPERF3_H
#define USTACK_APPS_SVC_IPERF3_H

#include <stdio.h>

struct ustack;
struct us_netif;

/* Starts the service, listening on port 5201 of every address of the
 * stack (nif names the interface it is started for; the listener is not
 * tied to it). Takes the stack lock itself: call it without holding it.
 * 0, or -errno (EADDRINUSE, ENOMEM, EEXIST when already started on s). */
int svc_iperf3_start(struct ustack *s, struct us_netif *nif);
/* Stops it: a running test is aborted and the listener closed. Takes the
 * stack lock itself; does nothing when the service does not run on s. */
void svc_iperf3_stop(struct ustack *s);
/* Where the one-line report of each test goes, for every stack (default
 * stdout; NULL: nowhere). */
void svc_iperf3_set_report(FILE *f);

#endif

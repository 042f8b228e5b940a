/* The TCP client side shared by `ustack nc` and `ustack get`: bring up the
 * stack on the interface, connect a stream socket (with an optional
 * timeout), wait for data or a signal, and the one-line messages for
 * connection errors. Uses the sockets API (include/ustack/socket.h). */
#ifndef USTACK_APPS_TCP_CLIENT_H
#define USTACK_APPS_TCP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>

#include "cli.h"
#include "iface.h"

struct tcp_client {
    struct iface ifc;
    bool ifc_open;
    int sd;     /* ustack socket, -1 when none */
    int pollfd; /* readable when the socket has data, EOF or an error */
    int sigfd;
    struct sockaddr_in dst;
    char dst_text[INET_ADDRSTRLEN];
};

/* Parses HOST (a unicast IPv4 address) for a command: 0, or 2 after a
 * message naming the bad value. */
int tcp_client_parse_host(const char *what, const char *text, uint32_t *addr);

/* Brings up the interface and connects to addr:port (network order
 * address, host order port); timeout 0 waits as long as TCP does. Returns
 * 0, or 1 after printing one line ("ustack: connect to A port P: ..."). */
int tcp_client_open(struct tcp_client *c, const struct cli_iface *o, uint32_t addr, uint16_t port,
                    us_time_t timeout);

enum tcp_wait { TCP_WAIT_READY, TCP_WAIT_TIMEOUT, TCP_WAIT_STOP };
/* Waits up to timeout_ms (-1: forever) for the socket to show one of events
 * (POLLIN, POLLOUT; errors and hang-ups always count) or extra_fd (-1:
 * none) to be readable. TCP_WAIT_STOP on SIGINT/SIGTERM. */
enum tcp_wait tcp_client_wait(struct tcp_client *c, short events, int extra_fd, int timeout_ms,
                              bool *extra_ready);

/* Prints "ustack: A port P: <strerror(err)>" (what: "connect to " or ""). */
void tcp_client_error(const struct tcp_client *c, const char *what, int err);

void tcp_client_close(struct tcp_client *c);

#endif

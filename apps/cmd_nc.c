/* `ustack nc HOST PORT`: a TCP connection from the stack, netcat style.
 * Standard input goes to the connection and the connection's data to
 * standard output. At the end of standard input the sending side is shut
 * down (a FIN) and reading goes on until the peer closes: exit 0. A refused,
 * reset or timed-out connection is one line on stderr and exit 1.
 *
 * One thread does it all, in a poll loop over standard input, the socket's
 * pollfd and the signalfd. Standard input is read only when what was read
 * before has been handed to the socket, so a peer that does not read stops
 * us reading (back-pressure): while the send buffer is full we wait for
 * POLLOUT instead. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "tcp_client.h"
#include "ustack/socket.h"

#define NC_BUF (64 * 1024)

enum { NC_OPT_WAIT, NC_OPT_VERBOSE };

struct nc_params {
    us_time_t connect_timeout; /* 0: as long as TCP tries */
    bool verbose;
};

struct nc {
    struct tcp_client c;
    bool in_eof, shut_wr;
    size_t pending, pending_off; /* read from stdin, not yet sent */
    uint8_t inbuf[NC_BUF], outbuf[NC_BUF];
};

static int nc_apply(void *ctx, int id, const char *opt, const char *value, char *err, size_t errlen)
{
    struct nc_params *p = ctx;
    switch (id) {
    case NC_OPT_WAIT:
        return cli_parse_seconds(opt, value, 0.001, 86400, &p->connect_timeout, err, errlen);
    case NC_OPT_VERBOSE:
        p->verbose = true;
        return 0;
    }
    return -1;
}

static const struct cli_opt nc_opts[] = {
    {"--wait", 'w', "SECS", "give up connecting after SECS seconds (default: as TCP does)",
     NC_OPT_WAIT},
    {"--verbose", 'v', NULL, "say on stderr when the connection is up", NC_OPT_VERBOSE},
};

static const char nc_details[] =
    "Standard input goes to HOST:PORT, what comes back to standard output. The end\n"
    "of standard input shuts down sending; nc exits 0 when the peer closes, 1 when\n"
    "the connection is refused, reset or times out, 2 on bad usage.\n";

/* Writes all of buf to fd; false on an error (stdout closed). */
static bool write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Connection to stdout. 1: keep going, 0: the peer closed, -1: error. */
static int pump_in(struct nc *nc)
{
    struct ustack *s = nc->c.ifc.stack;
    for (;;) {
        ssize_t n = us_recv(s, nc->c.sd, nc->outbuf, sizeof(nc->outbuf), MSG_DONTWAIT);
        if (n > 0) {
            if (!write_all(STDOUT_FILENO, nc->outbuf, (size_t)n)) {
                fprintf(stderr, "ustack: nc: writing standard output: %s\n", strerror(errno));
                return -1;
            }
            continue;
        }
        if (n == 0)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 1;
        tcp_client_error(&nc->c, "", errno);
        return -1;
    }
}

/* Stdin to the connection. 1: keep going, -1: error. */
static int pump_out(struct nc *nc, bool stdin_ready)
{
    struct ustack *s = nc->c.ifc.stack;
    for (;;) {
        if (nc->pending == 0 && !nc->in_eof && stdin_ready) {
            ssize_t n = read(STDIN_FILENO, nc->inbuf, sizeof(nc->inbuf));
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 1;
            if (n <= 0) {
                nc->in_eof = true; /* an unreadable stdin ends like an empty one */
            } else {
                nc->pending = (size_t)n;
                nc->pending_off = 0;
            }
            stdin_ready = false; /* read once per wake: poll says when there is more */
        }
        if (nc->pending) {
            ssize_t n = us_send(s, nc->c.sd, nc->inbuf + nc->pending_off, nc->pending,
                                MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return 1;
                tcp_client_error(&nc->c, "", errno);
                return -1;
            }
            nc->pending -= (size_t)n;
            nc->pending_off += (size_t)n;
            continue;
        }
        if (nc->in_eof && !nc->shut_wr) {
            nc->shut_wr = true;
            if (us_shutdown(s, nc->c.sd, SHUT_WR) != 0 && errno != ENOTCONN) {
                tcp_client_error(&nc->c, "", errno);
                return -1;
            }
        }
        return 1;
    }
}

/* Runs until the peer has closed and all of standard input has been sent:
 * the peer's FIN only ends what it sends (it may still be reading, as after
 * `nc -N`), so our input still goes out before we exit. */
static int nc_loop(struct nc *nc)
{
    bool stdin_ready = false, peer_eof = false;
    for (;;) {
        if (!peer_eof) {
            int rc = pump_in(nc);
            if (rc < 0)
                return 1;
            peer_eof = rc == 0;
        }
        if (pump_out(nc, stdin_ready) < 0)
            return 1;
        if (peer_eof && nc->shut_wr)
            return 0;
        bool want_stdin = nc->pending == 0 && !nc->in_eof;
        short events = (short)((peer_eof ? 0 : POLLIN) | (nc->pending ? POLLOUT : 0));
        if (tcp_client_wait(&nc->c, events, want_stdin ? STDIN_FILENO : -1, -1, &stdin_ready) ==
            TCP_WAIT_STOP)
            return 1;
    }
}

static int nc_run(const struct cli_args *args, const struct nc_params *p, uint32_t addr,
                  uint16_t port)
{
    struct nc *nc = calloc(1, sizeof(*nc));
    if (!nc)
        return 1;
    int status = tcp_client_open(&nc->c, &args->iface, addr, port, p->connect_timeout);
    if (status == 0) {
        if (p->verbose)
            fprintf(stderr, "ustack: connected to %s port %u\n", nc->c.dst_text, port);
        status = nc_loop(nc);
    }
    tcp_client_close(&nc->c);
    free(nc);
    return status;
}

int cmd_nc(int argc, char **argv)
{
    struct nc_params p = {0};
    const struct cli_cmd cmd = {
        .name = "nc",
        .synopsis = "[OPTIONS] HOST PORT",
        .summary = "Connects to TCP port PORT of HOST (an IPv4 address) from the stack.",
        .details = nc_details,
        .opts = nc_opts,
        .nopts = sizeof(nc_opts) / sizeof(nc_opts[0]),
        .apply = nc_apply,
        .ctx = &p,
    };
    struct cli_args args;
    char err[CLI_ERRLEN];
    int parsed = cli_parse_command(&cmd, argc, argv, &args);
    if (parsed != CLI_GO_ON)
        return parsed;
    if (args.npos != 2) {
        fprintf(stderr, "ustack: nc: %s (usage: ustack nc [OPTIONS] HOST PORT)\n",
                args.npos < 2 ? "missing HOST or PORT" : "too many arguments");
        return 2;
    }
    uint32_t addr;
    unsigned long port;
    if (tcp_client_parse_host("HOST", args.pos[0], &addr) != 0)
        return 2;
    if (cli_parse_uint("PORT", args.pos[1], 1, 65535, &port, err, sizeof(err)) != 0 ||
        iface_validate(&args.iface, err, sizeof(err)) != 0) {
        fprintf(stderr, "ustack: %s\n", err);
        return 2;
    }
    return nc_run(&args, &p, addr, (uint16_t)port);
}

/* `ustack serve`: the classic small services (echo, discard, daytime,
 * chargen) on UDP and TCP, an HTTP server and an iperf3 server, run on the
 * stack thread until SIGINT or SIGTERM. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "iface.h"
#include "services.h"
#include "signals.h"
#include "svc_tcp.h"

#include "svc_iperf3.h"

enum { SERVE_OPT_SERVICE };

/* A service name enables each of its parts: UDP, TCP, or the iperf3
 * server. */
struct service {
    const char *name;
    const struct svc_def *udp;
    const struct svc_tcp_def *tcp;
    bool iperf3;
};

static const struct service services[] = {
    {"echo", &svc_echo, &svc_tcp_echo, false},
    {"discard", &svc_discard, &svc_tcp_discard, false},
    {"daytime", &svc_daytime, &svc_tcp_daytime, false},
    {"chargen", &svc_chargen, &svc_tcp_chargen, false},
    {"http", NULL, &svc_http, false},
    {"iperf3", NULL, NULL, true},
};

#define N_SERVICES (sizeof(services) / sizeof(services[0]))
#define ALL_SERVICES ((1u << N_SERVICES) - 1)

struct serve {
    unsigned selected; /* bit i: services[i] */
    bool all;          /* "all" or the default: a missing part is not fatal */
    struct svc_ctx udp_ctx[N_SERVICES];
    struct us_udp_pcb *udp_pcbs[N_SERVICES * CLI_MAX_IP4];
    int nudp;
    struct svc_tcp tcp[N_SERVICES];
    bool tcp_running[N_SERVICES];
    bool iperf3_running;
};

static int select_service(struct serve *sv, const char *name, size_t len)
{
    if (len == 3 && strncmp(name, "all", 3) == 0) {
        sv->selected = ALL_SERVICES;
        sv->all = true;
        return 0;
    }
    for (size_t i = 0; i < N_SERVICES; i++) {
        if (strlen(services[i].name) == len && strncmp(services[i].name, name, len) == 0) {
            sv->selected |= 1u << i;
            return 0;
        }
    }
    return -1;
}

/* --service NAME, repeatable; also a comma-separated list. */
static int serve_apply(void *ctx, int id, const char *opt, const char *value, char *err,
                       size_t errlen)
{
    struct serve *sv = ctx;
    (void)id;
    for (const char *p = value;; p++) {
        size_t len = strcspn(p, ",");
        if (select_service(sv, p, len) != 0)
            return cli_invalid(err, errlen, opt, value,
                               "echo, discard, daytime, chargen, http, iperf3 or all");
        p += len;
        if (*p == '\0')
            return 0;
    }
}

static const struct cli_opt serve_opts[] = {
    {"--service", 0, "NAME", "run this service (repeatable; default all)", SERVE_OPT_SERVICE},
};

static const char serve_details[] =
    "Services (a name enables it on UDP and on TCP where both exist):\n"
    "  echo     port 7   (RFC 862) sends every datagram / every byte back\n"
    "  discard  port 9   (RFC 863) drops everything received\n"
    "  daytime  port 13  (RFC 867) the date and time, UTC (TCP: then closes)\n"
    "  chargen  port 19  (RFC 864) rotating 72-character lines: 512 bytes per\n"
    "                    datagram on UDP, an endless stream on TCP\n"
    "  http     port 80  (TCP) GET / shows the stack; GET /bytes/N sends N bytes,\n"
    "                    byte i being i mod 251; HEAD; keep-alive and pipelining\n"
    "  iperf3   port 5201 (TCP) an iperf3 server\n"
    "  all      every service (the default)\n"
    "\n"
    "Prints 'ready' on stdout once the addresses are usable. SIGUSR1 prints the\n"
    "counters to stderr; SIGINT or SIGTERM stops, printing the counters.\n";

/* UDP: one pcb per selected service and usable address (a reply then
 * leaves from the address the request was sent to). Under the lock. */
static int bind_udp(struct serve *sv, struct iface *ifc)
{
    for (size_t i = 0; i < N_SERVICES; i++) {
        const struct svc_def *def = services[i].udp;
        if (!def || !(sv->selected & (1u << i)))
            continue;
        sv->udp_ctx[i] = (struct svc_ctx){.stack = ifc->stack};
        for (int a = 0; a < ifc->naddrs; a++) {
            if (!ifc->usable[a])
                continue;
            struct us_udp_pcb *pcb = us_udp_new(ifc->stack, def->recv, NULL, &sv->udp_ctx[i]);
            if (!pcb)
                return -ENOMEM;
            sv->udp_pcbs[sv->nudp++] = pcb;
            int rc = us_udp_bind(pcb, &ifc->addrs[a].addr, def->port);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* TCP: one listener per service on every address. Under the lock. */
static int listen_tcp(struct serve *sv, struct iface *ifc)
{
    for (size_t i = 0; i < N_SERVICES; i++) {
        const struct svc_tcp_def *def = services[i].tcp;
        if (!def || !(sv->selected & (1u << i)))
            continue;
        int rc = svc_tcp_start(&sv->tcp[i], def, ifc->stack);
        if (rc != 0) {
            fprintf(stderr, "ustack: %s: cannot listen on TCP port %u: %s\n", def->name, def->port,
                    strerror(-rc));
            return rc;
        }
        sv->tcp_running[i] = true;
    }
    return 0;
}

/* The iperf3 server is started without the stack lock held (it takes it
 * itself). A failure is fatal only when iperf3 was asked for by name. */
static int start_iperf3(struct serve *sv, struct iface *ifc)
{
    size_t i = 0;
    while (!services[i].iperf3)
        i++;
    if (!(sv->selected & (1u << i)))
        return 0;
    int rc = svc_iperf3_start(ifc->stack, ifc->nif);
    if (rc != 0) {
        fprintf(stderr, "ustack: iperf3: cannot start the server: %s%s\n", strerror(-rc),
                sv->all ? " (going on without it)" : "");
        return sv->all ? 0 : -1;
    }
    sv->iperf3_running = true;
    return 0;
}

static int start_services(struct serve *sv, struct iface *ifc)
{
    iface_lock(ifc);
    int rc = bind_udp(sv, ifc);
    if (rc != 0)
        fprintf(stderr, "ustack: cannot bind the UDP services: %s\n", strerror(-rc));
    else
        rc = listen_tcp(sv, ifc);
    iface_unlock(ifc);
    if (rc == 0)
        rc = start_iperf3(sv, ifc);
    return rc;
}

static void stop_services(struct serve *sv, struct iface *ifc)
{
    if (sv->iperf3_running)
        svc_iperf3_stop(ifc->stack);
    sv->iperf3_running = false;
    iface_lock(ifc);
    for (size_t i = 0; i < N_SERVICES; i++) {
        if (sv->tcp_running[i])
            svc_tcp_stop(&sv->tcp[i]);
        sv->tcp_running[i] = false;
    }
    for (int i = 0; i < sv->nudp; i++)
        us_udp_free(sv->udp_pcbs[i]);
    sv->nudp = 0;
    iface_unlock(ifc);
}

static void wait_for_stop(struct iface *ifc, int sigfd)
{
    for (;;) {
        struct pollfd pfd = {.fd = sigfd, .events = POLLIN};
        poll(&pfd, 1, -1);
        int signo;
        while ((signo = signals_read(sigfd)) != 0)
            if (iface_on_signal(ifc, signo))
                return;
    }
}

static int serve_run(struct serve *sv, const struct cli_args *args)
{
    char err[CLI_ERRLEN];
    struct iface ifc;
    int sigfd = signals_open();
    if (sigfd < 0) {
        perror("ustack: signalfd");
        return 1;
    }
    if (iface_open(&ifc, &args->iface, err, sizeof(err)) != 0) {
        fprintf(stderr, "ustack: %s\n", err);
        iface_close(&ifc, false);
        return 1;
    }
    int status = 0;
    enum iface_wait w = iface_wait_ready(&ifc, sigfd);
    if (w == IFACE_READY) {
        if (start_services(sv, &ifc) != 0) {
            status = 1;
        } else {
            printf("ready\n");
            fflush(stdout);
            wait_for_stop(&ifc, sigfd);
        }
        stop_services(sv, &ifc);
    } else if (w == IFACE_NO_ADDRESS) {
        status = 1;
    }
    iface_close(&ifc, true);
    close(sigfd);
    return status;
}

int cmd_serve(int argc, char **argv)
{
    static struct serve sv;
    const struct cli_cmd cmd = {
        .name = "serve",
        .synopsis = "[OPTIONS] [--service NAME]...",
        .summary = "Runs the echo, discard, daytime, chargen, HTTP and iperf3 services on the\n"
                   "stack until SIGINT or SIGTERM.",
        .details = serve_details,
        .opts = serve_opts,
        .nopts = sizeof(serve_opts) / sizeof(serve_opts[0]),
        .apply = serve_apply,
        .ctx = &sv,
    };
    struct cli_args args;
    char err[CLI_ERRLEN];
    int parsed = cli_parse_command(&cmd, argc, argv, &args);
    if (parsed != CLI_GO_ON)
        return parsed;
    if (args.npos > 0) {
        fprintf(stderr, "ustack: serve: unexpected argument '%s'\n", args.pos[0]);
        return 2;
    }
    if (iface_validate(&args.iface, err, sizeof(err)) != 0) {
        fprintf(stderr, "ustack: %s\n", err);
        return 2;
    }
    if (sv.selected == 0) {
        sv.selected = ALL_SERVICES;
        sv.all = true;
    }
    return serve_run(&sv, &args);
}

/* `ustack serve`: the classic small UDP services (echo, discard, daytime,
 * chargen) on their standard ports, run on the stack thread until SIGINT or
 * SIGTERM. */
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

enum { SERVE_OPT_SERVICE };
#define SERVE_MAX_SERVICES 8

struct serve {
    unsigned services; /* bit i: svc_all[i] */
    struct svc_ctx ctx[SERVE_MAX_SERVICES];
    struct us_udp_pcb *pcbs[SERVE_MAX_SERVICES * CLI_MAX_IP4];
    int npcbs;
};

static int select_service(struct serve *sv, const char *name, size_t len)
{
    if (len == 3 && strncmp(name, "all", 3) == 0) {
        sv->services = (1u << svc_count) - 1;
        return 0;
    }
    for (size_t i = 0; i < svc_count; i++) {
        if (strlen(svc_all[i]->name) == len && strncmp(svc_all[i]->name, name, len) == 0) {
            sv->services |= 1u << i;
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
            return cli_invalid(err, errlen, opt, value, "echo, discard, daytime, chargen or all");
        p += len;
        if (*p == '\0')
            return 0;
    }
}

static const struct cli_opt serve_opts[] = {
    {"--service", 0, "NAME", "run this service (repeatable; default all)", SERVE_OPT_SERVICE},
};

static const char serve_details[] =
    "Services, on UDP:\n"
    "  echo     port 7   (RFC 862) sends every datagram back\n"
    "  discard  port 9   (RFC 863) drops every datagram\n"
    "  daytime  port 13  (RFC 867) answers with the date and time, UTC\n"
    "  chargen  port 19  (RFC 864) answers with 512 bytes of rotating 72-character lines\n"
    "  all      every service (the default)\n"
    "\n"
    "Prints 'ready' on stdout once the addresses are usable. SIGUSR1 prints the\n"
    "counters to stderr; SIGINT or SIGTERM stops, printing the counters.\n";

/* Binds one pcb per selected service and usable address (a reply then
 * leaves from the address the request was sent to). Under the lock. */
static int bind_services(struct serve *sv, struct iface *ifc)
{
    for (size_t i = 0; i < svc_count; i++) {
        if (!(sv->services & (1u << i)))
            continue;
        sv->ctx[i] = (struct svc_ctx){.stack = ifc->stack};
        for (int a = 0; a < ifc->naddrs; a++) {
            if (!ifc->usable[a])
                continue;
            struct us_udp_pcb *pcb = us_udp_new(ifc->stack, svc_all[i]->recv, NULL, &sv->ctx[i]);
            if (!pcb)
                return -ENOMEM;
            sv->pcbs[sv->npcbs++] = pcb;
            int rc = us_udp_bind(pcb, &ifc->addrs[a].addr, svc_all[i]->port);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static void unbind_services(struct serve *sv, struct iface *ifc)
{
    iface_lock(ifc);
    for (int i = 0; i < sv->npcbs; i++)
        us_udp_free(sv->pcbs[i]);
    iface_unlock(ifc);
    sv->npcbs = 0;
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
        iface_lock(&ifc);
        int rc = bind_services(sv, &ifc);
        iface_unlock(&ifc);
        if (rc != 0) {
            fprintf(stderr, "ustack: cannot bind the services: %s\n", strerror(-rc));
            status = 1;
        } else {
            printf("ready\n");
            fflush(stdout);
            wait_for_stop(&ifc, sigfd);
        }
        unbind_services(sv, &ifc);
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
        .summary = "Runs the small UDP services on the stack until SIGINT or SIGTERM.",
        .details = serve_details,
        .opts = serve_opts,
        .nopts = sizeof(serve_opts) / sizeof(serve_opts[0]),
        .apply = serve_apply,
        .ctx = &sv,
    };
    struct cli_args args;
    char err[CLI_ERRLEN];
    switch (cli_parse(&cmd, argc, argv, &args, err, sizeof(err))) {
    case CLI_HELP:
        cli_usage(&cmd, stdout);
        return 0;
    case CLI_ERROR:
        fprintf(stderr, "ustack: %s\n", err);
        return 2;
    case CLI_OK:
        break;
    }
    if (args.npos > 0) {
        fprintf(stderr, "ustack: serve: unexpected argument '%s'\n", args.pos[0]);
        return 2;
    }
    if (iface_validate(&args.iface, err, sizeof(err)) != 0) {
        fprintf(stderr, "ustack: %s\n", err);
        return 2;
    }
    if (sv.services == 0)
        sv.services = (1u << svc_count) - 1;
    return serve_run(&sv, &args);
}

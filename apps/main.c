/* The `ustack` command-line tool: runs services and clients on a ustack
 * instance attached to a TAP or TUN device. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run echo, discard, daytime, chargen (UDP, TCP), HTTP and iperf3"},
    {"ping", cmd_ping, "send ICMP echo requests from the stack"},
    {"nc", cmd_nc, "connect to a TCP port: standard input to it, its data to standard output"},
    {"get", cmd_get, "fetch an http:// URL"},
    {"iperf3", cmd_iperf3, "measure TCP throughput against an iperf3 server"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "Usage: ustack COMMAND [OPTIONS] [ARGS]\n"
               "       ustack --help | --version\n"
               "       ustack COMMAND --help\n\n"
               "A TCP/IP stack in user space, on a Linux TAP or TUN device.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nEvery command takes the interface options:\n"
               "  --tap NAME | --tun NAME  --ip4 ADDR/LEN...  [--mac MAC] [--gw4 ADDR]\n"
               "  [--mtu N] [--pcap FILE] [--impair SPEC] [--log LEVEL] [--no-acd]\n"
               "See 'ustack COMMAND --help' for details.\n"
               "\nExample:\n"
               "  ustack serve --tap ustack0 --ip4 10.77.0.2/24\n");
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *word = argv[1];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
        if (argc > 2 && strcmp(word, "help") == 0 && find_command(argv[2])) {
            char help[] = "--help";
            char *args[] = {help, NULL};
            return find_command(argv[2])->run(1, args);
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(word, "--version") == 0 || strcmp(word, "-V") == 0) {
        printf("ustack %s\n", USTACK_VERSION);
        return 0;
    }
    /* The command is the first word naming one; interface options may come
     * before it ("ustack --log debug serve ..."). */
    int at = 1;
    while (at < argc && !find_command(argv[at]))
        at++;
    if (at < argc) {
        const struct command *cmd = find_command(argv[at]);
        char *args[argc];
        int n = 0;
        for (int i = 1; i < argc; i++)
            if (i != at)
                args[n++] = argv[i];
        args[n] = NULL;
        return cmd->run(n, args);
    }
    if (word[0] == '-')
        fprintf(stderr, "ustack: unknown option '%s' (expected a command; see 'ustack --help')\n",
                word);
    else
        fprintf(stderr, "ustack: unknown command '%s' (expected serve, ping, nc, get or iperf3)\n",
                word);
    return 2;
}

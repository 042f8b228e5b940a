/* The subcommands of the `ustack` tool. Each takes the words after its name
 * and returns the exit status: 0 success, 1 failure, 2 bad usage. */
#ifndef USTACK_APPS_COMMANDS_H
#define USTACK_APPS_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_nc(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_iperf3(int argc, char **argv);

#endif

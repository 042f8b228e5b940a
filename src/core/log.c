#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/stack.h"

static const char *const chan_names[US_CH__COUNT] = {"core",  "link", "eth", "arp",  "ip4",
                                                     "icmp4", "udp",  "tcp", "sock", "app"};
static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int us_log_enabled(const struct ustack *s, enum us_log_chan chan, enum us_log_level level)
{
    return (unsigned)level <= s->log_level[chan];
}

void us_log_emit(struct ustack *s, enum us_log_chan chan, enum us_log_level level, const char *fmt,
                 ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (s->cfg.log_fn) {
        s->cfg.log_fn(s->cfg.log_ctx, level, chan, line);
        return;
    }
    us_time_t t = s->now - s->cfg.start_time;
    fprintf(stderr, "[%5llu.%06llu] %-5s %-5s %s\n", (unsigned long long)(t / US_SEC),
            (unsigned long long)(t % US_SEC / 1000), chan_names[chan], level_names[level], line);
}

void us_log_set_level(struct ustack *s, int chan, enum us_log_level level)
{
    for (int c = 0; c < US_CH__COUNT; c++)
        if (chan < 0 || chan == c)
            s->log_level[c] = (uint8_t)level;
}

static int lookup(const char *name, size_t len, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncmp(name, names[i], len) == 0)
            return i;
    return -1;
}

/* One item: "LEVEL" for every channel or "CHAN=LEVEL". */
static int parse_item(struct ustack *s, const char *item, size_t len)
{
    const char *eq = memchr(item, '=', len);
    int chan = -1;
    if (eq) {
        chan = lookup(item, (size_t)(eq - item), chan_names, US_CH__COUNT);
        if (chan < 0)
            return -1;
        len -= (size_t)(eq + 1 - item);
        item = eq + 1;
    }
    int level = lookup(item, len, level_names, 5);
    if (level < 0)
        return -1;
    us_log_set_level(s, chan, (enum us_log_level)level);
    return 0;
}

int us_log_parse(struct ustack *s, const char *spec)
{
    if (!spec || !*spec)
        return -1;
    uint8_t saved[US_CH__COUNT];
    memcpy(saved, s->log_level, sizeof(saved));
    while (*spec) {
        size_t len = strcspn(spec, ",");
        if (len == 0 || parse_item(s, spec, len) < 0) {
            memcpy(s->log_level, saved, sizeof(saved));
            return -1;
        }
        spec += len;
        if (*spec == ',')
            spec++;
    }
    return 0;
}

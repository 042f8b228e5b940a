#include "core/counters.h"

#include <stdio.h>
#include <string.h>

#include "core/stack.h"

const char *const us_drop_names[US_DROP__COUNT] = {
#define US_D(n) #n,
    US_DROP_LIST(US_D)
#undef US_D
};

static const char *const proto_names[US_P__COUNT] = {
#define US_P(n) #n,
    US_PROTO_LIST(US_P)
#undef US_P
};

/* Event counters are named "<proto>.<rest>", e.g. ip4_frag_out -> ip4.frag_out. */
static const char *const event_names[US_EV__COUNT] = {
#define US_E(n) #n,
    US_EVENT_LIST(US_E)
#undef US_E
};

static void event_display_name(int i, char *buf, size_t len)
{
    snprintf(buf, len, "%s", event_names[i]);
    char *u = strchr(buf, '_');
    if (u)
        *u = '.';
}

typedef void (*counter_visit)(void *ctx, const char *name, uint64_t v);

static void visit_all(const struct ustack *s, counter_visit fn, void *ctx)
{
    char name[64];
    for (int p = 0; p < US_P__COUNT; p++) {
        snprintf(name, sizeof(name), "%s.rx", proto_names[p]);
        fn(ctx, name, s->cnt.rx[p]);
        snprintf(name, sizeof(name), "%s.tx", proto_names[p]);
        fn(ctx, name, s->cnt.tx[p]);
        snprintf(name, sizeof(name), "%s.drop", proto_names[p]);
        fn(ctx, name, s->cnt.drop[p]);
    }
    for (int e = 0; e < US_EV__COUNT; e++) {
        event_display_name(e, name, sizeof(name));
        fn(ctx, name, s->cnt.event[e]);
    }
    for (int d = 1; d < US_DROP__COUNT; d++) {
        snprintf(name, sizeof(name), "drop.%s", us_drop_names[d]);
        fn(ctx, name, s->cnt.reason[d]);
    }
}

struct format_ctx {
    char *buf;
    size_t len, used;
};

static void format_one(void *vctx, const char *name, uint64_t v)
{
    struct format_ctx *c = vctx;
    if (v == 0)
        return;
    size_t room = c->used < c->len ? c->len - c->used : 0;
    int n = snprintf(c->buf + (room ? c->used : 0), room, "%s %llu\n", name, (unsigned long long)v);
    if (n > 0)
        c->used += (size_t)n;
}

size_t us_counters_format(const struct ustack *s, char *buf, size_t len)
{
    struct format_ctx c = {buf, len, 0};
    if (len)
        buf[0] = '\0';
    visit_all(s, format_one, &c);
    return c.used < len ? c.used : (len ? len - 1 : 0);
}

struct get_ctx {
    const char *want;
    uint64_t v;
};

static void get_one(void *vctx, const char *name, uint64_t v)
{
    struct get_ctx *c = vctx;
    if (strcmp(name, c->want) == 0)
        c->v = v;
}

uint64_t us_counter_get(const struct ustack *s, const char *name)
{
    struct get_ctx c = {name, 0};
    visit_all(s, get_one, &c);
    return c.v;
}

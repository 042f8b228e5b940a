#include "link/impair.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"

#define REORDER_EXTRA (1 * US_MSEC) /* how much later a reordered frame leaves */

enum { DIR_RX = 0, DIR_TX = 1 };

struct us_impair {
    struct us_netif *nif;
    struct us_impair_spec spec;
    struct us_rng rng;
    struct us_pkt *queue[2]; /* held frames per direction, sorted by due time */
    struct us_timer timer;
};

/* "12.5%" or "0.1%" -> parts per million. */
static int parse_percent(const char *v, uint32_t *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || strcmp(end, "%") != 0 || !(d >= 0 && d <= 100)) /* NaN too */
        return -1;
    *out = (uint32_t)(d * 10000.0 + 0.5);
    return 0;
}

/* "10ms", "250us", "1s", "5" (milliseconds). */
static int parse_delay(const char *v, us_time_t *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || !(d >= 0 && d <= 60000))
        return -1;
    double unit = (double)US_MSEC;
    if (strcmp(end, "us") == 0)
        unit = 1000.0;
    else if (strcmp(end, "s") == 0)
        unit = (double)US_SEC;
    else if (*end && strcmp(end, "ms") != 0)
        return -1;
    *out = (us_time_t)(d * unit);
    return 0;
}

static int parse_item(char *item, struct us_impair_spec *out)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return -1;
    *eq = '\0';
    const char *key = item, *val = eq + 1;
    if (strcmp(key, "loss") == 0)
        return parse_percent(val, &out->loss);
    if (strcmp(key, "dup") == 0)
        return parse_percent(val, &out->dup);
    if (strcmp(key, "reorder") == 0)
        return parse_percent(val, &out->reorder);
    if (strcmp(key, "corrupt") == 0)
        return parse_percent(val, &out->corrupt);
    if (strcmp(key, "delay") == 0)
        return parse_delay(val, &out->delay);
    if (strcmp(key, "seed") == 0) {
        char *end;
        errno = 0;
        out->seed = strtoull(val, &end, 10);
        return (errno || end == val || *end) ? -1 : 0;
    }
    return -1;
}

int us_impair_parse(const char *text, struct us_impair_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->seed = 1;
    char buf[256];
    if (!text || !*text || strlen(text) >= sizeof(buf)) {
        snprintf(err, errlen, "empty or too long impairment spec");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char copy[128];
        snprintf(copy, sizeof(copy), "%s", item);
        if (parse_item(item, out) < 0) {
            snprintf(err, errlen,
                     "bad impairment item '%s' (expected loss=P%%, dup=P%%, reorder=P%%, "
                     "corrupt=P%%, delay=Nms or seed=N)",
                     copy);
            return -1;
        }
    }
    return 0;
}

static bool chance(struct us_impair *im, uint32_t ppm)
{
    return ppm && us_rng_below(&im->rng, US_IMPAIR_PPM) < ppm;
}

static void deliver(struct us_impair *im, int dir, struct us_pkt *p)
{
    if (dir == DIR_TX)
        us_link_tx_wire(im->nif, p);
    else
        us_link_rx(im->nif, p);
}

static void rearm(struct us_impair *im)
{
    us_time_t next = US_TIME_NEVER;
    for (int d = 0; d < 2; d++)
        if (im->queue[d] && im->queue[d]->due < next)
            next = im->queue[d]->due;
    if (next == US_TIME_NEVER)
        us_timer_cancel(im->nif->stack, &im->timer);
    else
        us_timer_arm(im->nif->stack, &im->timer, next);
}

static void on_timer(struct ustack *s, struct us_timer *t)
{
    struct us_impair *im = us_container_of(t, struct us_impair, timer);
    for (int d = 0; d < 2; d++) {
        while (im->queue[d] && im->queue[d]->due <= s->now) {
            struct us_pkt *p = im->queue[d];
            im->queue[d] = p->next;
            p->next = NULL;
            deliver(im, d, p);
        }
    }
    rearm(im);
}

static void hold(struct us_impair *im, int dir, struct us_pkt *p, us_time_t due)
{
    p->due = due;
    struct us_pkt **pp = &im->queue[dir];
    while (*pp && (*pp)->due <= due)
        pp = &(*pp)->next;
    p->next = *pp;
    *pp = p;
    rearm(im);
}

static void corrupt(struct us_impair *im, struct us_pkt *p)
{
    if (p->len == 0)
        return;
    uint32_t byte = us_rng_below(&im->rng, p->len);
    p->data[byte] ^= (uint8_t)(1u << us_rng_below(&im->rng, 8));
}

static void impair_one(struct us_impair *im, int dir, struct us_pkt *p)
{
    struct ustack *s = im->nif->stack;
    if (chance(im, im->spec.loss)) {
        us_drop(s, p, US_P_eth, US_DROP_link_impair_loss);
        return;
    }
    if (chance(im, im->spec.corrupt)) {
        corrupt(im, p);
        us_count_event(s, US_EV_link_impair_corrupt);
    }
    us_time_t due = s->now + im->spec.delay;
    if (chance(im, im->spec.reorder)) {
        due += im->spec.delay + REORDER_EXTRA;
        us_count_event(s, US_EV_link_impair_reorder);
    }
    if (due == s->now) /* nothing held can be due earlier than now */
        deliver(im, dir, p);
    else
        hold(im, dir, p, due);
}

static void impair(struct us_netif *nif, int dir, struct us_pkt *p)
{
    struct us_impair *im = nif->impair;
    struct us_pkt *copy = NULL;
    if (chance(im, im->spec.dup)) {
        copy = us_pkt_clone(p);
        us_count_event(nif->stack, US_EV_link_impair_dup);
    }
    impair_one(im, dir, p);
    if (copy)
        impair_one(im, dir, copy);
}

void us_impair_tx(struct us_netif *nif, struct us_pkt *p)
{
    impair(nif, DIR_TX, p);
}

void us_impair_rx(struct us_netif *nif, struct us_pkt *p)
{
    impair(nif, DIR_RX, p);
}

void us_impair_free(struct us_netif *nif)
{
    struct us_impair *im = nif->impair;
    if (!im)
        return;
    us_timer_cancel(nif->stack, &im->timer);
    for (int d = 0; d < 2; d++) {
        while (im->queue[d]) {
            struct us_pkt *p = im->queue[d];
            im->queue[d] = p->next;
            us_pkt_free(p);
        }
    }
    free(im);
    nif->impair = NULL;
}

int us_netif_set_impair(struct us_netif *nif, const char *spec, char *err, size_t errlen)
{
    struct us_impair_spec parsed;
    if (us_impair_parse(spec, &parsed, err, errlen) < 0)
        return -1;
    us_impair_free(nif);
    struct us_impair *im = calloc(1, sizeof(*im));
    if (!im) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    im->nif = nif;
    im->spec = parsed;
    us_rng_seed(&im->rng, parsed.seed);
    us_timer_init(&im->timer, on_timer);
    nif->impair = im;
    return 0;
}

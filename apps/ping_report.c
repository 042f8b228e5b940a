/* What `ustack ping` prints, in the format of iputils ping(8). */
#include "ping_report.h"

#include <limits.h>

void ping_stats_init(struct ping_stats *st, bool timing)
{
    *st = (struct ping_stats){.timing = timing, .tmin = LLONG_MAX};
}

void ping_stats_add_rtt(struct ping_stats *st, long long rtt_us)
{
    st->tsum += rtt_us;
    st->tsum2 += rtt_us * rtt_us;
    if (rtt_us < st->tmin)
        st->tmin = rtt_us;
    if (rtt_us > st->tmax)
        st->tmax = rtt_us;
}

void ping_format_rtt(long long t, char *buf, size_t len)
{
    if (t >= 100000 - 50)
        snprintf(buf, len, "time=%lld ms", (t + 500) / 1000);
    else if (t >= 10000 - 5)
        snprintf(buf, len, "time=%lld.%01lld ms", (t + 50) / 1000, ((t + 50) % 1000) / 100);
    else if (t >= 1000)
        snprintf(buf, len, "time=%lld.%02lld ms", (t + 5) / 1000, ((t + 5) % 1000) / 10);
    else
        snprintf(buf, len, "time=%lld.%03lld ms", t / 1000, t % 1000);
}

/* Integer square root by Newton's method (no libm). */
static long long isqrt(long long a)
{
    if (a <= 0)
        return 0;
    long long x = a, prev;
    do {
        prev = x;
        x = (x + a / x) / 2;
    } while (x < prev);
    return prev;
}

static void print_rtt_line(FILE *f, const struct ping_stats *st)
{
    long long total = (long long)(st->received + st->duplicates);
    long long avg = st->tsum / total;
    /* Mean deviation as iputils computes it: sqrt(E[t^2] - E[t]^2). */
    long long var = (st->tsum2 - (st->tsum * st->tsum) / total) / total;
    long long mdev = isqrt(var);
    fprintf(f, "rtt min/avg/max/mdev = %lld.%03lld/%lld.%03lld/%lld.%03lld/%lld.%03lld ms\n",
            st->tmin / 1000, st->tmin % 1000, avg / 1000, avg % 1000, st->tmax / 1000,
            st->tmax % 1000, mdev / 1000, mdev % 1000);
}

void ping_print_summary(FILE *f, const char *dest, const struct ping_stats *st, us_time_t elapsed)
{
    fprintf(f, "\n--- %s ping statistics ---\n", dest);
    fprintf(f, "%lu packets transmitted, %lu received", st->transmitted, st->received);
    if (st->duplicates)
        fprintf(f, ", +%lu duplicates", st->duplicates);
    if (st->errors)
        fprintf(f, ", +%lu errors", st->errors);
    if (st->transmitted) {
        float loss =
            (float)((double)(st->transmitted - st->received) * 100.0 / (double)st->transmitted);
        fprintf(f, ", %g%% packet loss, time %llums", (double)loss,
                (unsigned long long)((elapsed + US_MSEC / 2) / US_MSEC));
    }
    fputc('\n', f);
    if (st->received && st->timing && st->tmin != LLONG_MAX)
        print_rtt_line(f, st);
}

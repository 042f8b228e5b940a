/* The body of /bytes/N: byte i is i mod 251. Sending reads straight from a
 * table holding the period many times over, so a large body costs one copy
 * into the send buffer and nothing else. */
#include <pthread.h>

#include "http.h"

#define PATTERN_REPEATS 263 /* 251 * 263 = 66013: 64 KiB after any start */
#define PATTERN_TABLE (HTTP_PATTERN_PERIOD * PATTERN_REPEATS)

static uint8_t table[PATTERN_TABLE];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_fill(void)
{
    for (size_t i = 0; i < PATTERN_TABLE; i++)
        table[i] = http_pattern_byte(i);
}

const uint8_t *http_pattern_at(uint64_t off, size_t *avail)
{
    pthread_once(&table_once, table_fill);
    size_t start = (size_t)(off % HTTP_PATTERN_PERIOD);
    *avail = PATTERN_TABLE - start;
    return table + start;
}

ssize_t http_pattern_check(const uint8_t *buf, size_t len, uint64_t off)
{
    uint8_t want = http_pattern_byte(off);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != want)
            return (ssize_t)i;
        want = want == HTTP_PATTERN_PERIOD - 1 ? 0 : (uint8_t)(want + 1);
    }
    return -1;
}

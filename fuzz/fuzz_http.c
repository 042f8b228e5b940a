/* libFuzzer target for the HTTP input paths of the tool: the request
 * parser of the HTTP service, the response parser, chunked decoding and
 * URL parsing of `ustack get`. The first byte picks the path; the rest is
 * the input, which must never crash them or make them read out of bounds.
 *
 *   cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DUSTACK_FUZZ=ON
 *   build-fuzz/fuzz/fuzz_http -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../apps/http_chunked.c"
#include "../apps/http_format.c"
#include "../apps/http_parse.c"
#include "../apps/http_url.c"

static void chunked(const uint8_t *in, size_t len)
{
    struct http_chunked c;
    http_chunked_init(&c);
    /* Feed in pieces of varying size, as a socket would deliver them. */
    size_t step = len % 7 + 1;
    while (len) {
        size_t n = len < step ? len : step, used = 0, dlen = 0;
        const uint8_t *data = NULL;
        enum http_chunk_result r = http_chunked_feed(&c, in, n, &used, &data, &dlen);
        if (dlen && (data < in || data + dlen > in + n))
            abort(); /* body bytes must lie inside what was given */
        if (r != HTTP_CHUNK_MORE || used == 0)
            return;
        in += used;
        len -= used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 4;
    data++;
    size--;
    /* A NUL-terminated copy of exactly the input (ASan sees overreads). */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    switch (which) {
    case 0: {
        struct http_request req;
        http_parse_request(text, size, &req);
        break;
    }
    case 1: {
        struct http_response r;
        http_parse_response(text, size, &r);
        break;
    }
    case 2:
        chunked(data, size);
        break;
    default: {
        struct http_url u;
        char err[128];
        http_url_parse(text, &u, err, sizeof(err));
        break;
    }
    }
    free(text);
    return 0;
}

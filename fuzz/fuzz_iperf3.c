/* libFuzzer target for the iperf3 control messages the tool reads from the
 * network: the JSON reader and the parameter and result decoders (the
 * first byte picks which). They must reject bad input without crashing,
 * leaking or reading out of bounds.
 *
 *   cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DUSTACK_FUZZ=ON
 *   build-fuzz/fuzz/fuzz_iperf3 -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../apps/iperf3_proto.c"
#include "../apps/json_mini.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 3;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char err[256];
    switch (which) {
    case 0: {
        struct jm_doc doc;
        if (jm_parse(&doc, text, len) == 0)
            jm_free(&doc);
        break;
    }
    case 1: {
        struct ip3_params p;
        int ierr = 0;
        ip3_params_default(&p);
        ip3_params_from_json(text, len, &p, &ierr, err, sizeof(err));
        break;
    }
    default: {
        static struct ip3_results r;
        ip3_results_from_json(text, len, &r, err, sizeof(err));
        break;
    }
    }
    return 0;
}

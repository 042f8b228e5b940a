/* A small JSON (RFC 8259) reader and writer, enough for the iperf3 control
 * protocol: the reader builds a tree of values from a bounded text and
 * never trusts it (nesting depth, string escapes and number syntax are
 * checked); the writer appends to a growing buffer. */
#ifndef USTACK_APPS_JSON_MINI_H
#define USTACK_APPS_JSON_MINI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JM_MAX_DEPTH 32

enum jm_type { JM_NULL, JM_BOOL, JM_NUMBER, JM_STRING, JM_ARRAY, JM_OBJECT };

struct jm_value {
    enum jm_type type;
    bool boolean;
    double number;
    const char *string;           /* decoded, NUL-terminated (JM_STRING) */
    size_t string_len;            /* may hold NULs from \u0000 */
    const char *key;              /* member name when inside an object, else NULL */
    const struct jm_value *child; /* first element or member */
    const struct jm_value *next;  /* next sibling */
    size_t count;                 /* elements or members */
    /* Filled while parsing, then turned into the pointers above. */
    int32_t first_idx, next_idx, last_idx;
};

struct jm_doc {
    struct jm_value *values;
    size_t nvalues, cap;
    char *text; /* a copy of the input; strings are decoded in place */
};

/* Parses len bytes (no NUL needed). 0, or -1 when the text is not one
 * well-formed JSON value (or memory ran out); the doc is empty then.
 * Free with jm_free() either way. */
int jm_parse(struct jm_doc *doc, const char *text, size_t len);
void jm_free(struct jm_doc *doc);
const struct jm_value *jm_root(const struct jm_doc *doc);

/* The first member named key of an object, or NULL. */
const struct jm_value *jm_get(const struct jm_value *obj, const char *key);
/* Element i of an array, or NULL. */
const struct jm_value *jm_at(const struct jm_value *arr, size_t i);
/* A member's value if it is a number (false otherwise, out untouched). */
bool jm_get_number(const struct jm_value *obj, const char *key, double *out);
/* A member that is true, or a non-zero number (cJSON's habit for flags). */
bool jm_get_flag(const struct jm_value *obj, const char *key);

/* ---- Writer ---- */

struct jm_writer {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory or misuse: jm_finish returns NULL */
    int depth;
    bool first[JM_MAX_DEPTH + 1]; /* no element written yet at this depth */
    bool after_key;
};

void jm_writer_init(struct jm_writer *w);
void jm_writer_free(struct jm_writer *w);
void jm_object_begin(struct jm_writer *w);
void jm_object_end(struct jm_writer *w);
void jm_array_begin(struct jm_writer *w);
void jm_array_end(struct jm_writer *w);
void jm_key(struct jm_writer *w, const char *key);
void jm_string(struct jm_writer *w, const char *s);
/* Integral values print as integers, others with 17 significant digits;
 * NaN and infinities print as null (as cJSON does). */
void jm_number(struct jm_writer *w, double v);
void jm_int(struct jm_writer *w, int64_t v);
void jm_uint(struct jm_writer *w, uint64_t v);
void jm_bool(struct jm_writer *w, bool v);
void jm_null(struct jm_writer *w);
/* The text (NUL-terminated, owned by the writer) and its length, or NULL
 * when something failed or a container is still open. */
const char *jm_finish(struct jm_writer *w, size_t *len);

#endif

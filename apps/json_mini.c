/* A small JSON reader and writer (RFC 8259). */
#include "json_mini.h"

#include <inttypes.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Reader ---- */

struct jm_parser {
    struct jm_doc *doc;
    char *p, *end; /* inside doc->text */
    int depth;
};

static void skip_ws(struct jm_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* A new value; returns its index or -1. */
static int32_t new_value(struct jm_parser *ps, enum jm_type type)
{
    struct jm_doc *d = ps->doc;
    if (d->nvalues == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        if (cap > INT32_MAX)
            return -1;
        struct jm_value *v = realloc(d->values, cap * sizeof(*v));
        if (!v)
            return -1;
        d->values = v;
        d->cap = cap;
    }
    struct jm_value *v = &d->values[d->nvalues];
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->first_idx = v->next_idx = v->last_idx = -1;
    return (int32_t)d->nvalues++;
}

static bool match_word(struct jm_parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u"; -1 when malformed. */
static long read_hex4(struct jm_parser *ps)
{
    if (ps->end - ps->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(ps->p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    ps->p += 4;
    return v;
}

static char *put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        *out++ = (char)cp;
    } else if (cp < 0x800) {
        *out++ = (char)(0xc0 | cp >> 6);
        *out++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *out++ = (char)(0xe0 | cp >> 12);
        *out++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *out++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *out++ = (char)(0xf0 | cp >> 18);
        *out++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *out++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *out++ = (char)(0x80 | (cp & 0x3f));
    }
    return out;
}

/* \uXXXX, with a UTF-16 surrogate pair as one code point (RFC 8259 7). */
static long read_unicode_escape(struct jm_parser *ps)
{
    long cp = read_hex4(ps);
    if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
        return -1;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
            return -1;
        ps->p += 2;
        long lo = read_hex4(ps);
        if (lo < 0xdc00 || lo > 0xdfff)
            return -1;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return cp;
}

static int escape_char(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    }
    return -1;
}

/* Decodes the string at ps->p (just past the opening quote) in place: the
 * decoded form is never longer than the escaped one. */
static int parse_string_raw(struct jm_parser *ps, const char **out, size_t *out_len)
{
    char *w = ps->p, *start = ps->p;
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"') {
            *w = '\0'; /* the quote (or more) was read: room for the NUL */
            *out = start;
            *out_len = (size_t)(w - start);
            return 0;
        }
        if (c < 0x20)
            return -1; /* control characters must be escaped */
        if (c != '\\') {
            *w++ = (char)c;
            continue;
        }
        if (ps->p == ps->end)
            return -1;
        char e = *ps->p++;
        if (e == 'u') {
            long cp = read_unicode_escape(ps);
            if (cp < 0)
                return -1;
            w = put_utf8(w, (unsigned long)cp);
            continue;
        }
        int d = escape_char(e);
        if (d < 0)
            return -1;
        *w++ = (char)d;
    }
    return -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void skip_digits(struct jm_parser *ps)
{
    while (ps->p < ps->end && is_digit(*ps->p))
        ps->p++;
}

/* RFC 8259 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(struct jm_parser *ps, double *out)
{
    char *start = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p == ps->end || !is_digit(*ps->p))
        return -1;
    if (*ps->p == '0')
        ps->p++;
    else
        skip_digits(ps);
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p == ps->end || !is_digit(*ps->p))
            return -1;
        skip_digits(ps);
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p == ps->end || !is_digit(*ps->p))
            return -1;
        skip_digits(ps);
    }
    /* The text copy ends with a NUL, so strtod stops inside it; it must
     * read exactly what the grammar accepted. */
    char saved = *ps->p;
    *ps->p = '\0';
    char *end;
    *out = strtod(start, &end);
    *ps->p = saved;
    return end == ps->p ? 0 : -1;
}

static int32_t parse_value(struct jm_parser *ps);

/* Links child as the last child of parent. */
static void append_child(struct jm_doc *d, int32_t parent, int32_t child)
{
    struct jm_value *p = &d->values[parent];
    if (p->last_idx < 0)
        p->first_idx = child;
    else
        d->values[p->last_idx].next_idx = child;
    p->last_idx = child;
    p->count++;
}

static int32_t parse_array(struct jm_parser *ps)
{
    int32_t idx = new_value(ps, JM_ARRAY);
    if (idx < 0)
        return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return idx;
    }
    for (;;) {
        int32_t child = parse_value(ps);
        if (child < 0)
            return -1;
        append_child(ps->doc, idx, child);
        skip_ws(ps);
        if (ps->p == ps->end)
            return -1;
        char c = *ps->p++;
        if (c == ']')
            return idx;
        if (c != ',')
            return -1;
    }
}

static int32_t parse_object(struct jm_parser *ps)
{
    int32_t idx = new_value(ps, JM_OBJECT);
    if (idx < 0)
        return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return idx;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != '"')
            return -1;
        ps->p++;
        const char *key;
        size_t key_len;
        if (parse_string_raw(ps, &key, &key_len) != 0)
            return -1;
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != ':')
            return -1;
        ps->p++;
        int32_t child = parse_value(ps);
        if (child < 0)
            return -1;
        ps->doc->values[child].key = key;
        append_child(ps->doc, idx, child);
        skip_ws(ps);
        if (ps->p == ps->end)
            return -1;
        char c = *ps->p++;
        if (c == '}')
            return idx;
        if (c != ',')
            return -1;
    }
}

static int32_t parse_scalar(struct jm_parser *ps, char c)
{
    int32_t idx;
    if (c == '"') {
        ps->p++;
        const char *s;
        size_t len;
        if (parse_string_raw(ps, &s, &len) != 0 || (idx = new_value(ps, JM_STRING)) < 0)
            return -1;
        ps->doc->values[idx].string = s;
        ps->doc->values[idx].string_len = len;
        return idx;
    }
    if (c == 't' || c == 'f') {
        bool v = c == 't';
        if (!match_word(ps, v ? "true" : "false") || (idx = new_value(ps, JM_BOOL)) < 0)
            return -1;
        ps->doc->values[idx].boolean = v;
        return idx;
    }
    if (c == 'n')
        return match_word(ps, "null") ? new_value(ps, JM_NULL) : -1;
    double num;
    if (parse_number(ps, &num) != 0 || (idx = new_value(ps, JM_NUMBER)) < 0)
        return -1;
    ps->doc->values[idx].number = num;
    return idx;
}

static int32_t parse_value(struct jm_parser *ps)
{
    skip_ws(ps);
    if (ps->p == ps->end)
        return -1;
    char c = *ps->p;
    if (c != '[' && c != '{')
        return parse_scalar(ps, c);
    if (ps->depth == JM_MAX_DEPTH)
        return -1;
    ps->depth++;
    ps->p++;
    int32_t idx = c == '[' ? parse_array(ps) : parse_object(ps);
    ps->depth--;
    return idx;
}

/* Turns the indices into pointers once the array no longer moves. */
static void link_values(struct jm_doc *d)
{
    for (size_t i = 0; i < d->nvalues; i++) {
        struct jm_value *v = &d->values[i];
        v->child = v->first_idx >= 0 ? &d->values[v->first_idx] : NULL;
        v->next = v->next_idx >= 0 ? &d->values[v->next_idx] : NULL;
    }
}

int jm_parse(struct jm_doc *doc, const char *text, size_t len)
{
    memset(doc, 0, sizeof(*doc));
    doc->text = malloc(len + 1);
    if (!doc->text)
        return -1;
    memcpy(doc->text, text, len);
    doc->text[len] = '\0';
    struct jm_parser ps = {.doc = doc, .p = doc->text, .end = doc->text + len};
    int32_t root = parse_value(&ps);
    skip_ws(&ps);
    if (root != 0 || ps.p != ps.end) {
        jm_free(doc);
        return -1;
    }
    link_values(doc);
    return 0;
}

void jm_free(struct jm_doc *doc)
{
    free(doc->values);
    free(doc->text);
    memset(doc, 0, sizeof(*doc));
}

const struct jm_value *jm_root(const struct jm_doc *doc)
{
    return doc->nvalues ? &doc->values[0] : NULL;
}

const struct jm_value *jm_get(const struct jm_value *obj, const char *key)
{
    if (!obj || obj->type != JM_OBJECT)
        return NULL;
    for (const struct jm_value *v = obj->child; v; v = v->next)
        if (strcmp(v->key, key) == 0)
            return v;
    return NULL;
}

const struct jm_value *jm_at(const struct jm_value *arr, size_t i)
{
    if (!arr || arr->type != JM_ARRAY)
        return NULL;
    const struct jm_value *v = arr->child;
    while (v && i--)
        v = v->next;
    return v;
}

bool jm_get_number(const struct jm_value *obj, const char *key, double *out)
{
    const struct jm_value *v = jm_get(obj, key);
    if (!v || v->type != JM_NUMBER)
        return false;
    *out = v->number;
    return true;
}

bool jm_get_flag(const struct jm_value *obj, const char *key)
{
    const struct jm_value *v = jm_get(obj, key);
    if (!v)
        return false;
    return (v->type == JM_BOOL && v->boolean) || (v->type == JM_NUMBER && v->number != 0);
}

/* ---- Writer ---- */

void jm_writer_init(struct jm_writer *w)
{
    memset(w, 0, sizeof(*w));
    w->first[0] = true;
}

void jm_writer_free(struct jm_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

static void put(struct jm_writer *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = true;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void puts_(struct jm_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* The separator before a value (or a key) at the current depth. A value
 * right after its key needs none; the top level takes one value only. */
static void before_value(struct jm_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth]) {
        if (w->depth == 0)
            w->failed = true;
        else
            put(w, ",", 1);
    }
    w->first[w->depth] = false;
}

static void open_container(struct jm_writer *w, const char *bracket)
{
    before_value(w);
    if (w->depth == JM_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    puts_(w, bracket);
    w->first[++w->depth] = true;
}

static void close_container(struct jm_writer *w, const char *bracket)
{
    if (w->depth == 0 || w->after_key) {
        w->failed = true;
        return;
    }
    w->depth--;
    puts_(w, bracket);
}

void jm_object_begin(struct jm_writer *w)
{
    open_container(w, "{");
}

void jm_object_end(struct jm_writer *w)
{
    close_container(w, "}");
}

void jm_array_begin(struct jm_writer *w)
{
    open_container(w, "[");
}

void jm_array_end(struct jm_writer *w)
{
    close_container(w, "]");
}

static void put_escaped(struct jm_writer *w, const char *s)
{
    put(w, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"':
            puts_(w, "\\\"");
            break;
        case '\\':
            puts_(w, "\\\\");
            break;
        case '\n':
            puts_(w, "\\n");
            break;
        case '\r':
            puts_(w, "\\r");
            break;
        case '\t':
            puts_(w, "\\t");
            break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *c);
                puts_(w, esc);
            } else {
                put(w, (const char *)c, 1);
            }
        }
    }
    put(w, "\"", 1);
}

void jm_key(struct jm_writer *w, const char *key)
{
    before_value(w);
    put_escaped(w, key);
    put(w, ":", 1);
    w->after_key = true;
}

void jm_string(struct jm_writer *w, const char *s)
{
    before_value(w);
    put_escaped(w, s);
}

void jm_number(struct jm_writer *w, double v)
{
    char buf[40];
    before_value(w);
    const double exact = 9007199254740992.0; /* 2^53: integers exact below it */
    if (v != v || v > DBL_MAX || v < -DBL_MAX)
        snprintf(buf, sizeof(buf), "null");
    else if (v > -exact && v < exact && v == (double)(int64_t)v)
        snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)v);
    else
        snprintf(buf, sizeof(buf), "%.17g", v);
    puts_(w, buf);
}

void jm_int(struct jm_writer *w, int64_t v)
{
    char buf[24];
    before_value(w);
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    puts_(w, buf);
}

void jm_uint(struct jm_writer *w, uint64_t v)
{
    char buf[24];
    before_value(w);
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    puts_(w, buf);
}

void jm_bool(struct jm_writer *w, bool v)
{
    before_value(w);
    puts_(w, v ? "true" : "false");
}

void jm_null(struct jm_writer *w)
{
    before_value(w);
    puts_(w, "null");
}

const char *jm_finish(struct jm_writer *w, size_t *len)
{
    if (w->failed || w->depth != 0 || w->after_key || w->first[0] || !w->buf)
        return NULL;
    if (len)
        *len = w->len;
    return w->buf;
}

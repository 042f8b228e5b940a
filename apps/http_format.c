/* HTTP/1.1 response heads (RFC 9112 4, RFC 9110 15) as the `http` service
 * sends them: always a Content-Length, a Date (RFC 9110 6.6.1: an origin
 * server with a clock sends one) and an explicit Connection. */
#include <inttypes.h>
#include <stdio.h>

#include "http.h"

#ifndef USTACK_VERSION
#define USTACK_VERSION "0.1.0"
#endif

struct reason {
    int status;
    const char *text;
};

static const struct reason reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

const char *http_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "Unknown";
}

/* IMF-fixdate (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
static size_t format_date(char *buf, size_t len, time_t t)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    return strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

size_t http_format_head(char *buf, size_t len, int status, const char *content_type,
                        uint64_t content_length, bool keep_alive, bool http10, const char *extra,
                        time_t now)
{
    char date[40] = "";
    format_date(date, sizeof(date), now);
    /* An HTTP/1.0 client is told keep-alive explicitly, a 1.1 one close. */
    const char *conn = keep_alive ? "keep-alive" : "close";
    int n = snprintf(buf, len,
                     "HTTP/1.1 %d %s\r\n"
                     "Date: %s\r\n"
                     "Server: ustack/" USTACK_VERSION "\r\n"
                     "%s%s%s"
                     "Content-Length: %" PRIu64 "\r\n"
                     "%s%s%s"
                     "%s"
                     "\r\n",
                     status, http_reason(status), date, content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", content_length,
                     keep_alive && !http10 ? "" : "Connection: ", keep_alive && !http10 ? "" : conn,
                     keep_alive && !http10 ? "" : "\r\n", extra ? extra : "");
    if (n < 0 || (size_t)n >= len)
        return 0;
    return (size_t)n;
}

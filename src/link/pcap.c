/* Classic libpcap capture file writer.
 *
 * Format: a 24-byte global header, then per frame a 16-byte record header
 * and the frame bytes, all in host byte order (readers recognise the order
 * from the magic). Records carry wall-clock time (CLOCK_REALTIME): the
 * stack's own clock is monotonic with an arbitrary epoch, which tshark
 * would show as 1970. Output goes through stdio's buffer; us_pcap_close()
 * flushes it.
 *
 * Classic pcap has no direction field: frames in and out are interleaved in
 * the order the stack saw them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/netif.h"
#include "ustack/link.h"

#define PCAP_MAGIC 0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define PCAP_SNAPLEN 262144u
#define PCAP_LINKTYPE_ETHERNET 1
#define PCAP_LINKTYPE_RAW 101 /* bare IPv4/IPv6, version from the first nibble */

struct pcap_file_header {
    uint32_t magic;
    uint16_t version_major, version_minor;
    int32_t thiszone; /* GMT offset, always 0 */
    uint32_t sigfigs; /* always 0 */
    uint32_t snaplen;
    uint32_t linktype;
};

struct pcap_record_header {
    uint32_t ts_sec, ts_usec;
    uint32_t incl_len; /* bytes stored */
    uint32_t orig_len; /* bytes on the wire */
};

struct us_pcap {
    FILE *f;
    enum us_link_type type;
    bool failed;                 /* a write failed: stop writing, the file is truncated */
    uint64_t frames, max_frames; /* written so far; limit, 0 for none */
};

struct us_pcap *us_pcap_open(const char *path, enum us_link_type type, char *err, size_t errlen)
{
    struct us_pcap *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
        errno = ENOMEM;
        return NULL;
    }
    struct pcap_file_header h = {
        .magic = PCAP_MAGIC,
        .version_major = PCAP_VERSION_MAJOR,
        .version_minor = PCAP_VERSION_MINOR,
        .snaplen = PCAP_SNAPLEN,
        .linktype = type == US_LINK_IP ? PCAP_LINKTYPE_RAW : PCAP_LINKTYPE_ETHERNET,
    };
    p->type = type;
    p->f = fopen(path, "wbe");
    if (!p->f || fwrite(&h, sizeof h, 1, p->f) != 1) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        if (p->f)
            fclose(p->f);
        free(p);
        errno = e;
        return NULL;
    }
    return p;
}

void us_pcap_close(struct us_pcap *p)
{
    if (!p)
        return;
    fclose(p->f);
    free(p);
}

static void pcap_write_record(struct us_pcap *p, const uint8_t *frame, size_t len)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t incl = len < PCAP_SNAPLEN ? len : PCAP_SNAPLEN;
    struct pcap_record_header r = {
        .ts_sec = (uint32_t)now.tv_sec,
        .ts_usec = (uint32_t)(now.tv_nsec / 1000),
        .incl_len = (uint32_t)incl,
        .orig_len = (uint32_t)len,
    };
    if (fwrite(&r, sizeof r, 1, p->f) != 1 || fwrite(frame, 1, incl, p->f) != incl)
        p->failed = true;
}

static void pcap_capture(void *ctx, int dir, us_time_t t, const uint8_t *frame, size_t len)
{
    struct us_pcap *p = ctx;
    (void)dir; /* classic pcap cannot record it */
    (void)t;   /* stack clock: monotonic, not wall-clock */
    if (p->failed || (p->max_frames && p->frames >= p->max_frames))
        return;
    pcap_write_record(p, frame, len);
    if (++p->frames == p->max_frames)
        fflush(p->f); /* complete on disk while the stack still runs */
}

void us_pcap_set_max_frames(struct us_pcap *p, uint64_t max_frames)
{
    p->max_frames = max_frames;
}

void us_pcap_attach(struct us_pcap *p, struct us_netif *nif)
{
    if (nif->type != p->type)
        US_WARN(nif->stack, US_CH_LINK, "%s: pcap link type differs from the interface's",
                us_netif_name(nif));
    us_netif_set_capture(nif, pcap_capture, p);
}

/* Selective acknowledgments: the sender's scoreboard and the conservative
 * loss recovery helpers of RFC 6675 (IsLost, SetPipe, NextSeg), and the
 * receiver's SACK blocks (RFC 2018 section 4). */
#include <string.h>

#include "tcp/tcp.h"
#include "tcp/tcp_seq.h"

/* Inserts [l, r) into the sorted, disjoint scoreboard, merging neighbours. */
static void score_add(struct us_tcp_pcb *pcb, uint32_t l, uint32_t r)
{
    int i = 0;
    while (i < pcb->nscore && seq_lt(pcb->score[i].end, l))
        i++;
    int j = i;
    while (j < pcb->nscore && seq_le(pcb->score[j].start, r)) {
        l = seq_min(l, pcb->score[j].start);
        r = seq_max(r, pcb->score[j].end);
        j++;
    }
    if (j == i) {
        if (pcb->nscore == TCP_SCORE_MAX)
            return; /* no room: the information is advisory */
        memmove(&pcb->score[i + 1], &pcb->score[i],
                (size_t)(pcb->nscore - i) * sizeof(pcb->score[0]));
        pcb->nscore++;
    } else if (j - i > 1) {
        memmove(&pcb->score[i + 1], &pcb->score[j],
                (size_t)(pcb->nscore - j) * sizeof(pcb->score[0]));
        pcb->nscore = (uint8_t)(pcb->nscore - (j - i - 1));
    }
    pcb->score[i].start = l;
    pcb->score[i].end = r;
}

void tcp_sack_update(struct us_tcp_pcb *pcb, const struct tcp_opts *o)
{
    for (int i = 0; i < o->nsack; i++) {
        uint32_t l = o->sack[i].left, r = o->sack[i].right;
        /* Ignore D-SACKs (RFC 2883), inverted and out-of-range blocks. */
        if (!seq_lt(l, r) || seq_le(r, pcb->snd_una) || seq_gt(r, pcb->snd_max))
            continue;
        score_add(pcb, seq_max(l, pcb->snd_una), r);
    }
}

void tcp_sack_trim(struct us_tcp_pcb *pcb)
{
    int drop = 0;
    while (drop < pcb->nscore && seq_le(pcb->score[drop].end, pcb->snd_una))
        drop++;
    if (drop) {
        memmove(&pcb->score[0], &pcb->score[drop],
                (size_t)(pcb->nscore - drop) * sizeof(pcb->score[0]));
        pcb->nscore = (uint8_t)(pcb->nscore - drop);
    }
    if (pcb->nscore && seq_lt(pcb->score[0].start, pcb->snd_una))
        pcb->score[0].start = pcb->snd_una;
}

/* SACKed bytes in ranges from index i on. */
static uint32_t sacked_from(const struct us_tcp_pcb *pcb, int i)
{
    uint32_t n = 0;
    for (; i < pcb->nscore; i++)
        n += pcb->score[i].end - pcb->score[i].start;
    return n;
}

/* RFC 6675 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above. */
static bool lost_below_range(const struct us_tcp_pcb *pcb, int i)
{
    return sacked_from(pcb, i) > (TCP_DUPTHRESH - 1) * (uint32_t)pcb->mss;
}

bool tcp_sack_is_lost(const struct us_tcp_pcb *pcb, uint32_t seq)
{
    int i = 0;
    while (i < pcb->nscore && seq_le(pcb->score[i].end, seq))
        i++;
    return lost_below_range(pcb, i);
}

/* The holes: [snd_una, score[0].start), [score[i].end, score[i+1].start),
 * [score[n-1].end, snd_max). Hole k is followed by ranges k.. */
static void hole(const struct us_tcp_pcb *pcb, int k, uint32_t *a, uint32_t *b)
{
    *a = k == 0 ? pcb->snd_una : pcb->score[k - 1].end;
    *b = k < pcb->nscore ? pcb->score[k].start : pcb->snd_max;
}

/* RFC 6675 SetPipe: bytes not SACKed and not lost count once, bytes
 * retransmitted (below HighRxt) count once more. */
uint32_t tcp_sack_pipe(const struct us_tcp_pcb *pcb)
{
    uint32_t pipe = 0;
    for (int k = 0; k <= pcb->nscore; k++) {
        uint32_t a, b;
        hole(pcb, k, &a, &b);
        if (!seq_lt(a, b))
            continue;
        if (!lost_below_range(pcb, k))
            pipe += b - a;
        if (pcb->in_recovery && seq_gt(pcb->high_rxt, a))
            pipe += seq_min(pcb->high_rxt, b) - a;
    }
    return pipe;
}

/* RFC 6675 NextSeg rule (1): the first lost byte not yet retransmitted. */
bool tcp_sack_next_hole(const struct us_tcp_pcb *pcb, uint32_t *seq, uint32_t *len)
{
    for (int k = 0; k < pcb->nscore; k++) { /* the last hole is never lost */
        uint32_t a, b;
        hole(pcb, k, &a, &b);
        uint32_t start = seq_max(a, pcb->high_rxt);
        if (!seq_lt(start, b) || !lost_below_range(pcb, k))
            continue;
        *seq = start;
        *len = b - start < pcb->mss ? b - start : pcb->mss;
        return true;
    }
    return false;
}

bool tcp_sack_next_unsacked(const struct us_tcp_pcb *pcb, uint32_t *seq, uint32_t *len)
{
    for (int k = 0; k < pcb->nscore; k++) { /* only holes below the highest SACK */
        uint32_t a, b;
        hole(pcb, k, &a, &b);
        uint32_t start = seq_max(a, pcb->high_rxt);
        if (!seq_lt(start, b))
            continue;
        *seq = start;
        *len = b - start < pcb->mss ? b - start : pcb->mss;
        return true;
    }
    return false;
}

/* RFC 2018 4: the first block holds the segment that arrived last, then the
 * others, most recent first (we approximate recency by height). */
void tcp_sack_fill_blocks(const struct us_tcp_pcb *pcb, struct tcp_opts *o)
{
    const struct tcp_rcvbuf *r = &pcb->rcv;
    int max = o->ts_ok ? 3 : 4;
    o->nsack = 0;
    if (!r->nooo)
        return;
    int first = r->recent < r->nooo ? r->recent : r->nooo - 1;
    o->sack[o->nsack].left = r->ooo[first].start;
    o->sack[o->nsack++].right = r->ooo[first].end;
    for (int i = r->nooo - 1; i >= 0 && o->nsack < max; i--) {
        if (i == first)
            continue;
        o->sack[o->nsack].left = r->ooo[i].start;
        o->sack[o->nsack++].right = r->ooo[i].end;
    }
}

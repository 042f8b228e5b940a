/* Per-protocol counters and named drop reasons. */
#ifndef US_CORE_COUNTERS_H
#define US_CORE_COUNTERS_H

#include <stdint.h>

#define US_PROTO_LIST(X) X(eth) X(arp) X(ip4) X(icmp4) X(udp) X(tcp)

enum us_proto {
#define US_P(n) US_P_##n,
    US_PROTO_LIST(US_P)
#undef US_P
        US_P__COUNT
};

/* Why a packet was dropped. Every drop path names one of these. */
#define US_DROP_LIST(X)                                                                            \
    X(none)                                                                                        \
    X(eth_short)                                                                                   \
    X(eth_not_for_us)                                                                              \
    X(eth_8023_llc)                                                                                \
    X(eth_unknown_type)                                                                            \
    X(arp_short)                                                                                   \
    X(arp_bad_format)                                                                              \
    X(arp_bad_op)                                                                                  \
    X(arp_bad_sender)                                                                              \
    X(arp_not_for_us)                                                                              \
    X(arp_queue_full)                                                                              \
    X(arp_unresolved)                                                                              \
    X(ip4_short)                                                                                   \
    X(ip4_bad_version)                                                                             \
    X(ip4_bad_hlen)                                                                                \
    X(ip4_bad_total_len)                                                                           \
    X(ip4_bad_checksum)                                                                            \
    X(ip4_bad_src)                                                                                 \
    X(ip4_not_for_us)                                                                              \
    X(ip4_unknown_proto)                                                                           \
    X(ip4_no_route)                                                                                \
    X(ip4_df_too_big)                                                                              \
    X(ip4_frag_bad)                                                                                \
    X(ip4_frag_overlap)                                                                            \
    X(ip4_frag_dup)                                                                                \
    X(ip4_frag_too_big)                                                                            \
    X(ip4_frag_mem)                                                                                \
    X(ip4_frag_timeout)                                                                            \
    X(ip4_tentative)                                                                               \
    X(ip6_unsupported)                                                                             \
    X(icmp4_short)                                                                                 \
    X(icmp4_bad_checksum)                                                                          \
    X(icmp4_unknown_type)                                                                          \
    X(icmp4_rate_limited)                                                                          \
    X(icmp4_no_listener)                                                                           \
    X(icmp4_bcast_echo)                                                                            \
    X(icmp4_bad_quote)                                                                             \
    X(udp_short)                                                                                   \
    X(udp_bad_len)                                                                                 \
    X(udp_bad_checksum)                                                                            \
    X(udp_no_port)                                                                                 \
    X(udp_rcvbuf_full)                                                                             \
    X(sock_rcvbuf_full)                                                                            \
    X(tcp_short)                                                                                   \
    X(tcp_bad_hlen)                                                                                \
    X(tcp_bad_checksum)                                                                            \
    X(tcp_bad_option)                                                                              \
    X(tcp_bad_flags)                                                                               \
    X(tcp_no_socket)                                                                               \
    X(tcp_out_of_window)                                                                           \
    X(tcp_paws)                                                                                    \
    X(tcp_bad_ack)                                                                                 \
    X(tcp_syn_queue_full)                                                                          \
    X(tcp_accept_queue_full)                                                                       \
    X(tcp_bad_cookie)                                                                              \
    X(tcp_ofo_full)                                                                                \
    X(tcp_challenge_limit)                                                                         \
    X(tcp_icmp_invalid)                                                                            \
    X(tcp_no_timestamp)                                                                            \
    X(link_impair_loss)                                                                            \
    X(link_tx_error)                                                                               \
    X(link_bad_vnet_hdr)                                                                           \
    X(no_buffer)

enum us_drop {
#define US_D(n) US_DROP_##n,
    US_DROP_LIST(US_D)
#undef US_D
        US_DROP__COUNT
};

/* Notable events that are neither rx, tx nor drop. */
#define US_EVENT_LIST(X)                                                                           \
    X(ip4_frag_out)                                                                                \
    X(ip4_reasm_ok)                                                                                \
    X(arp_conflict)                                                                                \
    X(arp_defend)                                                                                  \
    X(arp_request_out)                                                                             \
    X(arp_reply_out)                                                                               \
    X(icmp4_echo_reply_out)                                                                        \
    X(icmp4_error_out)                                                                             \
    X(link_impair_dup)                                                                             \
    X(link_impair_corrupt)                                                                         \
    X(link_impair_reorder)                                                                         \
    X(tcp_retransmit)                                                                              \
    X(tcp_fast_retransmit)                                                                         \
    X(tcp_rto)                                                                                     \
    X(tcp_syncookie_sent)                                                                          \
    X(tcp_syncookie_ok)                                                                            \
    X(tcp_challenge_ack)                                                                           \
    X(tcp_active_open)                                                                             \
    X(tcp_passive_open)                                                                            \
    X(tcp_reset_sent)                                                                              \
    X(tcp_reset_rcvd)                                                                              \
    X(tcp_window_probe)                                                                            \
    X(tcp_keepalive_probe)                                                                         \
    X(tcp_timeout)                                                                                 \
    X(tcp_sack_recovery)                                                                           \
    X(tcp_newreno_recovery)

enum us_event {
#define US_E(n) US_EV_##n,
    US_EVENT_LIST(US_E)
#undef US_E
        US_EV__COUNT
};

struct us_counters {
    uint64_t rx[US_P__COUNT];
    uint64_t tx[US_P__COUNT];
    uint64_t drop[US_P__COUNT];
    uint64_t reason[US_DROP__COUNT];
    uint64_t event[US_EV__COUNT];
};

extern const char *const us_drop_names[US_DROP__COUNT];

#endif

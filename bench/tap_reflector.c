/* tap_reflector: the physical limit of a TAP device, as a benchmark baseline.
 *
 * Attaches to a TAP interface (IFF_TAP | IFF_NO_PI) and answers, in place and
 * with one read() and one write() per frame:
 *   - ARP requests for its IPv4 address (RFC 826),
 *   - ICMPv4 echo requests to its address (RFC 792),
 *   - UDP datagrams to its address and port 7 (echo, RFC 862).
 * Everything else is ignored. There is no stack here: no checksum is verified,
 * no state is kept. Whatever rate this reaches is the most any user-space
 * stack on the same TAP can reach.
 *
 * usage: tap_reflector [-m MAC] TAPNAME IPV4
 * Prints "ready" on stdout once attached; exits on SIGINT or SIGTERM and then
 * prints its frame counters on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define ETH_HLEN 14
#define ETHERTYPE_IP4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_LEN 28
#define IP4_PROTO_ICMP 1
#define IP4_PROTO_UDP 17
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define UDP_ECHO_PORT 7

struct counters {
    unsigned long frames_in;
    unsigned long arp_replies;
    unsigned long icmp_replies;
    unsigned long udp_replies;
    unsigned long ignored;
    unsigned long write_errors;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
    uint8_t tmp[16];
    memcpy(tmp, a, n);
    memcpy(a, b, n);
    memcpy(b, tmp, n);
}

/* Incremental checksum update when one 16-bit word changes from old_word to
 * new_word: HC' = ~(~HC + ~m + m') (RFC 1624, eqn. 3). */
static uint16_t csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
    uint32_t sum = (uint16_t)~csum + (uint16_t)~old_word + new_word;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Turns the Ethernet header around: reply goes back to the sender, from us. */
static void eth_turn_around(uint8_t *frame, const uint8_t *my_mac)
{
    memcpy(frame, frame + 6, 6);
    memcpy(frame + 6, my_mac, 6);
}

/* ARP request for my_ip -> ARP reply in place. Returns the reply length or 0. */
static size_t reflect_arp(uint8_t *frame, size_t len, const uint8_t *my_mac, const uint8_t *my_ip)
{
    uint8_t *arp = frame + ETH_HLEN;
    if (len < ETH_HLEN + ARP_LEN)
        return 0;
    /* htype Ethernet, ptype IPv4, hlen 6, plen 4, op request */
    if (get16(arp) != 1 || get16(arp + 2) != ETHERTYPE_IP4 || arp[4] != 6 || arp[5] != 4 ||
        get16(arp + 6) != 1)
        return 0;
    if (memcmp(arp + 24, my_ip, 4) != 0)
        return 0;
    put16(arp + 6, 2);
    memcpy(arp + 18, arp + 8, 10); /* target hw+proto := sender hw+proto */
    memcpy(arp + 8, my_mac, 6);
    memcpy(arp + 14, my_ip, 4);
    eth_turn_around(frame, my_mac);
    return ETH_HLEN + ARP_LEN;
}

/* Swapping source and destination addresses (or ports) leaves every
 * ones'-complement sum unchanged, so the IP header checksum and the UDP
 * checksum (pseudo-header included) stay valid as they are. */
static size_t reflect_udp(uint8_t *frame, size_t len, uint8_t *ip, size_t ihl)
{
    uint8_t *udp = ip + ihl;
    if (len < (size_t)(udp - frame) + 8 || get16(udp + 2) != UDP_ECHO_PORT)
        return 0;
    swap_bytes(udp, udp + 2, 2);
    return len;
}

static size_t reflect_icmp(uint8_t *frame, size_t len, uint8_t *ip, size_t ihl)
{
    uint8_t *icmp = ip + ihl;
    if (len < (size_t)(icmp - frame) + 8 || icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
        return 0;
    uint16_t old_word = get16(icmp);
    icmp[0] = ICMP_ECHO_REPLY;
    put16(icmp + 2, csum_update16(get16(icmp + 2), old_word, get16(icmp)));
    return len;
}

static size_t reflect_ip4(uint8_t *frame, size_t len, const uint8_t *my_mac, const uint8_t *my_ip)
{
    uint8_t *ip = frame + ETH_HLEN;
    if (len < ETH_HLEN + 20 || ip[0] >> 4 != 4)
        return 0;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    size_t total = get16(ip + 2);
    if (ihl < 20 || total < ihl || ETH_HLEN + total > len)
        return 0;
    if (memcmp(ip + 16, my_ip, 4) != 0 || (get16(ip + 6) & 0x3fff) != 0) /* no fragments */
        return 0;
    len = ETH_HLEN + total; /* drop any Ethernet padding */
    size_t out = 0;
    if (ip[9] == IP4_PROTO_UDP)
        out = reflect_udp(frame, len, ip, ihl);
    else if (ip[9] == IP4_PROTO_ICMP)
        out = reflect_icmp(frame, len, ip, ihl);
    if (out == 0)
        return 0;
    swap_bytes(ip + 12, ip + 16, 4);
    eth_turn_around(frame, my_mac);
    return out;
}

static size_t reflect(uint8_t *frame, size_t len, const uint8_t *my_mac, const uint8_t *my_ip,
                      struct counters *c)
{
    size_t out = 0;
    if (len < ETH_HLEN)
        return 0;
    switch (get16(frame + 12)) {
    case ETHERTYPE_ARP:
        out = reflect_arp(frame, len, my_mac, my_ip);
        c->arp_replies += out != 0;
        break;
    case ETHERTYPE_IP4:
        out = reflect_ip4(frame, len, my_mac, my_ip);
        if (out != 0 && frame[ETH_HLEN + 9] == IP4_PROTO_UDP)
            c->udp_replies++;
        else if (out != 0)
            c->icmp_replies++;
        break;
    }
    c->ignored += out == 0;
    return out;
}

static int tap_attach(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tap_reflector: /dev/net/tun: %s (needs root or CAP_NET_ADMIN)\n",
                strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tap_reflector: TUNSETIFF %s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int parse_mac(const char *text, uint8_t *mac)
{
    unsigned int b[6];
    char tail;
    if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (b[i] > 0xff)
            return -1;
        mac[i] = (uint8_t)b[i];
    }
    return 0;
}

static void usage_error(const char *what)
{
    fprintf(stderr, "tap_reflector: %s (usage: tap_reflector [-m MAC] TAPNAME IPV4)\n", what);
    exit(2);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: read() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void run(int fd, const uint8_t *my_mac, const uint8_t *my_ip, struct counters *c)
{
    uint8_t frame[65536];
    while (!stop_requested) {
        ssize_t n = read(fd, frame, sizeof frame);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fprintf(stderr, "tap_reflector: read: %s\n", strerror(errno));
            return;
        }
        c->frames_in++;
        size_t out = reflect(frame, (size_t)n, my_mac, my_ip, c);
        if (out != 0 && write(fd, frame, out) != (ssize_t)out)
            c->write_errors++;
    }
}

int main(int argc, char **argv)
{
    uint8_t my_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x77, 0x02};
    uint8_t my_ip[4];
    int opt;
    while ((opt = getopt(argc, argv, "m:")) != -1) {
        if (opt != 'm')
            usage_error("unknown option");
        if (parse_mac(optarg, my_mac) < 0) {
            fprintf(stderr, "tap_reflector: bad MAC address '%s' (expected xx:xx:xx:xx:xx:xx)\n",
                    optarg);
            return 2;
        }
    }
    if (argc - optind != 2)
        usage_error("expected TAPNAME and IPV4");
    if (inet_pton(AF_INET, argv[optind + 1], my_ip) != 1) {
        fprintf(stderr, "tap_reflector: bad IPv4 address '%s' (expected a.b.c.d)\n",
                argv[optind + 1]);
        return 2;
    }
    int fd = tap_attach(argv[optind]);
    if (fd < 0)
        return 1;
    install_signals();
    printf("ready\n");
    fflush(stdout);

    struct counters c = {0};
    run(fd, my_mac, my_ip, &c);
    fprintf(stderr,
            "tap_reflector: frames_in %lu arp %lu icmp %lu udp %lu ignored %lu write_errors %lu\n",
            c.frames_in, c.arp_replies, c.icmp_replies, c.udp_replies, c.ignored, c.write_errors);
    close(fd);
    return 0;
}

/* proto: IP protocol numbers the compiler knows by name, and which of them
 * carry ports.  The policy, the flow IR and the nftables model agree on
 * these. */
#ifndef PROTO_H
#define PROTO_H
#include <stdbool.h>

#define PROTO_ICMP    1
#define PROTO_TCP     6
#define PROTO_UDP     17
#define PROTO_DCCP    33
#define PROTO_ICMPV6  58
#define PROTO_SCTP    132
#define PROTO_UDPLITE 136

/* Protocols whose transport header starts with 16-bit source and
 * destination ports (TCP, UDP, DCCP, SCTP, UDP-Lite: the ones nftables'
 * `th dport` reads), so a destination port means something. */
bool proto_has_ports(unsigned proto);
/* A name for the common ones, else the number written into BUF. */
const char *proto_name(unsigned proto, char buf[8]);

#endif

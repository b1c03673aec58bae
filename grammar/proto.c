/* proto: IP protocol numbers. */
#include "proto.h"

#include <stdio.h>

bool proto_has_ports(unsigned proto)
{
	switch (proto) {
	case PROTO_TCP: case PROTO_UDP: case PROTO_DCCP:
	case PROTO_SCTP: case PROTO_UDPLITE:
		return true;
	default:
		return false;
	}
}

const char *proto_name(unsigned proto, char buf[8])
{
	switch (proto) {
	case PROTO_ICMP: return "icmp";
	case PROTO_TCP: return "tcp";
	case PROTO_UDP: return "udp";
	case PROTO_DCCP: return "dccp";
	case PROTO_ICMPV6: return "icmpv6";
	case PROTO_SCTP: return "sctp";
	case PROTO_UDPLITE: return "udplite";
	default:
		snprintf(buf, 8, "%u", proto);
		return buf;
	}
}

# Shared by the nft tests and benchmark: a relay network namespace.
#   keygate0  TUN, the tunnel: probes are written into it
#   kgother   TUN, another way in (not the tunnel)
#   kgsink    veth to the sink namespace NS-s: every route leads there, via a
#             gateway with a permanent neighbour entry whose MAC nobody has,
#             so the packets vanish on arrival (no ARP, no replies)
# Addresses: the relay 100.64.0.1 and fd7a:115c:a1e0::1 on keygate0, its
# egress 192.0.2.1/24 and 2001:db8:ffff::1/64 on kgsink.  Forwarding on,
# reverse-path filtering off (probes come from anywhere).
# kg_relay_up NS: create and configure; kg_relay_down NS: remove.
kg_relay_up() {
	local ns=$1
	ip netns add "$ns" || return 1
	local x="ip netns exec $ns"
	$x sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	$x ip link set lo up
	$x ip tuntap add dev keygate0 mode tun || return 1
	$x ip tuntap add dev kgother mode tun || return 1
	ip netns add "$ns-s" || return 1
	$x ip link add kgsink type veth peer name kgsinkp || return 1
	$x ip link set kgsinkp netns "$ns-s" || return 1
	ip -n "$ns-s" link set kgsinkp up
	for d in keygate0 kgother kgsink; do
		$x sysctl -qw "net.ipv4.conf.$d.rp_filter=0"
		$x ip link set "$d" up
	done
	$x ip addr add 100.64.0.1/32 dev keygate0
	$x ip addr add fd7a:115c:a1e0::1/128 dev keygate0 nodad
	$x ip addr add 192.0.2.1/24 dev kgsink
	$x ip addr add 2001:db8:ffff::1/64 dev kgsink nodad
	$x ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev kgsink nud permanent
	$x ip neigh add 2001:db8:ffff::2 lladdr 02:00:00:00:00:02 dev kgsink nud permanent
	$x ip route add default via 192.0.2.2 dev kgsink
	$x ip -6 route add default via 2001:db8:ffff::2 dev kgsink
}
kg_relay_down() {
	ip netns del "$1" 2>/dev/null
	ip netns del "$1-s" 2>/dev/null
}

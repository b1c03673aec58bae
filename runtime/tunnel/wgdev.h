/* wgdev: one WireGuard interface: identity, peers, index table, cryptokey
 * routing, the handshake and transport paths and the protocol timers.  It
 * owns the UDP sockets (listen_port changes rebind them) and writes to the
 * TUN fd it is given; the event loop (wgloop) feeds it packets and ticks.
 * Split as the kernel's driver is: the device and its timer tick (wgdev.c),
 * peer and index lookup (wgdev_peer.c), send (wgdev_send.c), receive
 * (wgdev_recv.c), configuration and the userspace API (wgdev_conf.c). */
#ifndef WGDEV_H
#define WGDEV_H
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allowedips.h"
#include "noise.h"
#include "ratelimit.h"
#include "timerq.h"
#include "timers.h"
#include "uapi.h"
#include "wgconfig.h"

#define WGDEV_MTU 1420
#define WGDEV_STAGED_MAX 64
#define WGDEV_IDX_BUCKETS 4096
/* Largest UDP payload we handle: a 64 KiB inner packet plus headers. */
#define WGDEV_PKT_MAX (65536 + 64)
/* At most this many bytes and messages in one UDP GSO send. */
#define WGDEV_GSO_MAX 60000
#define WGDEV_GSO_SEGS 64
#define WGDEV_RX_BATCH 1024
/* Handshake messages held from one receive batch; more are dropped (and
 * put the device under load). */
#define WGDEV_HS_BATCH 64
/* Cookie replies sent at most this many a second (with a burst of a tenth
 * of it), besides each source's own limit. */
#define WGDEV_COOKIE_REPLIES_PER_SEC 2000
/* More handshake messages than this in a second put the device under load
 * (each costs X25519 work until cookies are asked for): a flood is met
 * with cookies before it eats the CPU the data path needs. */
#define WGDEV_HS_RATE_LOAD 1000
#define WGDEV_CLOCK_RATE_MAX 100
#define WGDEV_LOAD_THRESHOLD_MAX 100000

struct wgdev_staged {
	size_t len;
	uint8_t *data;
};

struct wgpeer {
	struct noise_peer np;
	struct noise_keypairs kps;
	uint32_t hs_index;		/* index of the handshake in progress, 0 = none */
	bool has_endpoint;
	union wg_sockaddr endpoint;
	uint16_t keepalive;		/* persistent keepalive, seconds */
	uint64_t rx_bytes, tx_bytes;
	int64_t hs_sec, hs_nsec;	/* wall clock of the last completed handshake */
	struct timers timers;
	struct timerq_entry timer;	/* in wgdev.timerq at (or before) the next deadline */
	struct allowedips_owned aips;	/* the prefixes this peer owns */
	size_t n_staged;
	struct wgdev_staged *staged;	/* WGDEV_STAGED_MAX slots, allocated on first use */
	struct wgpeer *prev, *next;	/* wgdev's peers in the order they were added */
	struct wgpeer *hnext;		/* chain in wgdev.ptab */
};

/* A `get` answered a slice of peers at a time (wgdev_get_begin), so that a
 * large one does not stall the data path.  Peers removed meanwhile are left
 * out, peers added meanwhile are included. */
struct wgdev_get {
	struct wgpeer *next;		/* the next peer to format */
	struct wgdev_get *link;		/* the device's gets in progress */
};

struct wgdev_idx {
	uint32_t idx;
	struct wgpeer *peer;
	struct wgdev_idx *next;
};

struct wgdev_stats {
	uint64_t rx_dropped_garbage, rx_dropped_auth, rx_dropped_replay, rx_dropped_allowedips;
	uint64_t rx_dropped_ratelimit, cookies_sent, handshakes_done;
	uint64_t rx_dropped_hs_batch;	/* handshake messages over WGDEV_HS_BATCH in a batch */
	uint64_t cookies_limited;	/* cookie replies not sent: over the rate */
	uint64_t tx_dropped_nomem;	/* packets not staged: out of memory */
};

struct wgdev {
	char ifname[IFNAMSIZ];
	int tun_fd, udp4, udp6;
	bool tun_vnet_hdr;	/* TUN reads and writes carry a virtio_net_hdr */
	uint16_t listen_port;
	uint32_t fwmark;
	struct noise_local local;
	struct allowedips *aips;
	struct wgpeer *first, *last;	/* every peer, in the order they were added */
	size_t n_peers;
	struct timerq timerq;		/* peers by their next timer deadline */
	struct wgdev_get *gets;		/* gets in progress (their cursors follow removals) */
	/* peers by public key (SipHash with a random key), ptab_n buckets, a
	 * power of two at least n_peers */
	struct wgpeer **ptab;
	size_t ptab_n;
	uint8_t ptab_key[16];
	struct wgdev_idx *idx[WGDEV_IDX_BUCKETS];
	/* load detection for cookie replies */
	uint64_t load_window, under_load_until;
	unsigned load_count, load_threshold;	/* threshold 0: WGDEV_HS_RATE_LOAD (the default) */
	struct ratelimit *rl;	/* handshakes per source under load */
	struct ratelimit *rl_cookie;	/* cookie replies per source */
	uint64_t cookie_tokens, cookie_refill;	/* all cookie replies: tokens in ns, last refill */
	/* Handshake messages of the current receive batch, handled after its
	 * transport messages, at wgdev_flush, with one load decision for all. */
	struct {
		uint8_t *pkt;
		size_t len;
		union wg_sockaddr src;
	} hs[WGDEV_HS_BATCH];
	size_t n_hs;
	bool hs_overflow;	/* some were dropped: the batch had more */
	uint64_t hs_now;
	unsigned clock_rate;	/* protocol time runs this much faster (tests) */
	int (*on_rebind)(void *arg, int udp4, int udp6);	/* the UDP sockets are to change */
	void *on_rebind_arg;
	struct wgdev_stats stats;
	/* Transport messages to one peer waiting to go out in one UDP GSO send
	 * (equal sizes, the last may be shorter). */
	struct {
		struct wgpeer *peer;
		size_t len, segsize, nseg;
		bool closed;		/* a short message ended the run */
		bool disabled;		/* the kernel refused UDP_SEGMENT */
	} gso;
	uint8_t gsobuf[WGDEV_GSO_MAX + WGDEV_PKT_MAX + 64];
	/* Decrypted packets waiting to be written to the TUN device (pointers
	 * into the caller's receive buffers, valid until wgdev_flush). */
	size_t n_rx;
	uint8_t *rx_pkt[WGDEV_RX_BATCH];
	size_t rx_len[WGDEV_RX_BATCH];
	uint8_t grobuf[WGDEV_PKT_MAX + 64];
};

/* Protocol time: monotonic nanoseconds, times the device's clock rate. */
uint64_t wgdev_now(const struct wgdev *dev);

/* A device for interface IFNAME writing to TUN_FD (not owned; VNET_HDR: the
 * fd was opened with offloads).  NULL on out-of-memory. */
struct wgdev *wgdev_new(const char *ifname, int tun_fd, bool vnet_hdr);
void wgdev_free(struct wgdev *dev);
/* Bind new UDP sockets to PORT (0: pick one), let the rebind hook see
 * them, then close the old ones.  0 or -errno (the old ones kept). */
int wgdev_bind(struct wgdev *dev, uint16_t port);
/* FN(ARG, UDP4, UDP6) runs before the device moves to new UDP sockets (FN
 * NULL: nothing runs), so that whoever watches them can follow; a -errno
 * return refuses the move: the device keeps its old sockets and the bind or
 * configuration fails with that error. */
void wgdev_on_rebind(struct wgdev *dev, int (*fn)(void *arg, int udp4, int udp6), void *arg);

/* Tunables for tests (keygated's test options): the protocol clock runs
 * RATE (1..WGDEV_CLOCK_RATE_MAX) times faster; more than PER_SECOND
 * (0..WGDEV_LOAD_THRESHOLD_MAX, 0: WGDEV_HS_RATE_LOAD, the default)
 * handshake messages in a second put the device under load.  0 or -EINVAL. */
int wgdev_set_clock_rate(struct wgdev *dev, unsigned rate);
int wgdev_set_load_threshold(struct wgdev *dev, unsigned per_second);

/* A keepalive to every peer with a session that can send, now (keygate's
 * relays, issue 14: a node tells a live relay by what it receives, and a
 * persistent keepalive is put off by every packet received, so it cannot
 * serve).  Never starts a handshake.  Flushes. */
void wgdev_beacon(struct wgdev *dev);

/* The peer with public key PUB, or NULL; constant time in the number of
 * peers (for status readers such as the agent). */
const struct wgpeer *wgdev_peer_by_key(const struct wgdev *dev, const uint8_t pub[32]);

/* Apply CFG: listen port and fwmark, private key (the same key again
 * keeps every session), replace_peers, then each peer (an existing peer is
 * updated in place and keeps its sessions).  All or nothing, but for
 * running out of memory among the peers: a port that cannot be bound, a
 * mark the sockets refuse or an unusable key change nothing.  0, or -errno
 * (-ENOMEM, -EADDRINUSE, -EPERM, -EINVAL...).  CFG is not changed. */
int wgdev_configure(struct wgdev *dev, const struct wgconfig *cfg);

/* Run one userspace API request (body without the "set=1\n" line and the
 * blank line): a set is parsed completely, then applied with
 * wgdev_configure; the reply ends in "errno=N\n\n". */
void wgdev_uapi(struct wgdev *dev, enum uapi_op op, const char *body, size_t len, struct uapi_buf *reply);

/* A get in slices: wgdev_get_begin formats the device's lines into REPLY,
 * each wgdev_get_more up to MAX_PEERS peers and, at the end, the errno
 * line: it returns true when the reply is complete (G is then finished).
 * wgdev_get_end abandons G before that (its connection closed). */
void wgdev_get_begin(struct wgdev *dev, struct wgdev_get *g, struct uapi_buf *reply);
bool wgdev_get_more(struct wgdev *dev, struct wgdev_get *g, struct uapi_buf *reply, size_t max_peers);
void wgdev_get_end(struct wgdev *dev, struct wgdev_get *g);

/* One UDP datagram from SRC.  PKT must stay valid until wgdev_flush:
 * transport messages are handled at once, handshake messages held until
 * wgdev_flush, so that a flood of them never delays the data. */
void wgdev_udp_input(struct wgdev *dev, uint8_t *pkt, size_t len, const union wg_sockaddr *src, uint64_t now);
/* One IP packet read from the TUN device. */
void wgdev_tun_input(struct wgdev *dev, const uint8_t *pkt, size_t len, uint64_t now);
/* Send what is waiting in the GSO batch and write the decrypted packets
 * waiting for the TUN device, then handle the handshake messages held.  Whoever calls the input functions or
 * wgdev_tick calls it after each batch (wgloop after every wakeup);
 * wgdev_configure and wgdev_uapi flush by themselves. */
void wgdev_flush(struct wgdev *dev);
/* Run the timers that are due; the cost depends on how many are due, not
 * on the number of peers.  The caller flushes after it. */
void wgdev_tick(struct wgdev *dev, uint64_t now);

#endif

/* bench_handshake: handshake initiations per second a responder completes.
 *   bench_handshake keys N            print N "PRIVATE PUBLIC" base64 pairs
 *   bench_handshake flood HOST PORT RESPONDER_PUB SECONDS < keys
 *   bench_handshake blast HOST PORT RESPONDER_PUB SECONDS RATE
 * blast is an attacker who knows only the responder's public key: RATE
 * initiations a second, each with a valid mac1, from 64 keys the responder
 * does not know, replayed, cookie replies ignored; it prints what it sent.
 * The flood sends real initiations from every peer in turn (each peer at
 * most once per 25 ms, the responders' per-peer flood limit being 20 ms),
 * answers cookie replies like a real initiator (later messages carry mac2)
 * and prints responses received per second.  Works against any WireGuard
 * responder, so keygated and wireguard-go are measured the same way. */
#include "noise.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct bpeer {
	struct noise_local local;
	struct noise_peer peer;
	uint64_t last_sent, ts;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NOISE_NS + (uint64_t)ts.tv_nsec;
}

static int keys(int n)
{
	uint8_t priv[32], pub[32];
	char a[NOISE_KEY_B64_LEN + 1], b[NOISE_KEY_B64_LEN + 1];
	for (int i = 0; i < n; i++) {
		noise_keygen(priv);
		noise_pubkey(pub, priv);
		noise_key_to_base64(a, priv);
		noise_key_to_base64(b, pub);
		printf("%s %s\n", a, b);
	}
	sodium_memzero(priv, sizeof priv);
	return 0;
}

static int flood(const char *host, int port, const char *rpub_b64, double seconds)
{
	uint8_t rpub[32], priv[32];
	char a[128], b[128];
	size_t n = 0, cap = 0;
	struct bpeer *peers = NULL;
	if (noise_key_from_base64(rpub, rpub_b64) != 0) {
		fprintf(stderr, "bad responder key\n");
		return 2;
	}
	while (scanf("%127s %127s", a, b) == 2) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			peers = realloc(peers, cap * sizeof *peers);
			if (!peers)
				return 1;
		}
		struct bpeer *p = &peers[n];
		memset(p, 0, sizeof *p);
		if (noise_key_from_base64(priv, a) != 0 || noise_local_init(&p->local, priv) != 0 ||
		    noise_peer_init(&p->peer, &p->local, rpub, NULL) != 0)
			return 1;
		n++;
	}
	if (!n)
		return 2;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, host, &to.sin_addr);
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	unsigned long responses = 0, cookies = 0;
	size_t next = 0;
	uint8_t msg[NOISE_INITIATION_LEN], in[256];
	while (now_ns() < end) {
		uint64_t t = now_ns();
		int sent = 0;
		for (size_t k = 0; k < n; k++) {
			struct bpeer *p = &peers[next];
			size_t i = next;
			next = (next + 1) % n;
			if (p->last_sent && t - p->last_sent < 25000000ULL)
				continue;
			/* TAI64N label: must only grow per peer. */
			uint8_t ts[12];
			uint64_t sec = 0x400000000000000aULL + p->ts++;
			for (int j = 0; j < 8; j++)
				ts[j] = (uint8_t)(sec >> (56 - 8 * j));
			memset(ts + 8, 0, 4);
			struct noise_det det = { .ephemeral_private = NULL, .timestamp = ts };
			if (noise_create_initiation(&p->peer, &p->local, (uint32_t)i + 1, t, &det, msg) == 0)
				sendto(fd, msg, sizeof msg, 0, (struct sockaddr *)&to, sizeof to);
			p->last_sent = t;
			sent = 1;
			break;
		}
		for (;;) {
			ssize_t r = recv(fd, in, sizeof in, 0);
			if (r <= 0)
				break;
			if (r == NOISE_RESPONSE_LEN && in[0] == NOISE_MSG_RESPONSE)
				responses++;
			else if (r == COOKIE_REPLY_LEN && in[0] == NOISE_MSG_COOKIE) {
				uint32_t idx = noise_msg_receiver(in, (size_t)r);
				if (idx >= 1 && idx <= n && cookie_consume_reply(&peers[idx - 1].peer.cookie, in,
										 (size_t)r, now_ns()) == 0)
					cookies++;
			}
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		poll(&pfd, 1, sent ? 0 : 1);
	}
	printf("%.0f\n", responses / seconds);
	fprintf(stderr, "bench_handshake: %lu responses, %lu cookie replies in %.1f s from %zu peers\n", responses,
		cookies, seconds, n);
	for (size_t i = 0; i < n; i++) {
		noise_peer_wipe(&peers[i].peer);
		noise_local_wipe(&peers[i].local);
	}
	free(peers);
	close(fd);
	return 0;
}

static int blast(const char *host, int port, const char *rpub_b64, double seconds, double rate)
{
	enum { K = 64 };
	static uint8_t msgs[K][NOISE_INITIATION_LEN];
	struct noise_local local;
	struct noise_peer peer;
	uint8_t rpub[32], priv[32];
	if (noise_key_from_base64(rpub, rpub_b64) != 0 || rate <= 0) {
		fprintf(stderr, "bad responder key or rate\n");
		return 2;
	}
	for (int i = 0; i < K; i++) {
		noise_keygen(priv);
		if (noise_local_init(&local, priv) != 0 || noise_peer_init(&peer, &local, rpub, NULL) != 0 ||
		    noise_create_initiation(&peer, &local, (uint32_t)i + 1, now_ns(), NULL, msgs[i]) != 0)
			return 1;
		noise_peer_wipe(&peer);
		noise_local_wipe(&local);
	}
	sodium_memzero(priv, sizeof priv);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, host, &to.sin_addr);
	struct mmsghdr mm[K];
	struct iovec iov[K];
	for (int i = 0; i < K; i++) {
		iov[i] = (struct iovec){ .iov_base = msgs[i], .iov_len = NOISE_INITIATION_LEN };
		mm[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	unsigned long sent = 0;
	uint8_t in[256];
	for (uint64_t t = start; t < end; t = now_ns()) {
		/* Pace: send what RATE allows by now, in sendmmsg batches. */
		unsigned long due = (unsigned long)((double)(t - start) / 1e9 * rate);
		if (sent < due) {
			int n = sendmmsg(fd, mm, due - sent < K ? (unsigned)(due - sent) : K, 0);
			sent += n > 0 ? (unsigned long)n : 0;
			if (n > 0)
				continue;
		}
		while (recv(fd, in, sizeof in, 0) > 0)
			;
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	printf("%.0f\n", sent / seconds);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && !strcmp(argv[1], "keys"))
		return keys(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "flood"))
		return flood(argv[2], atoi(argv[3]), argv[4], atof(argv[5]));
	if (argc == 7 && !strcmp(argv[1], "blast"))
		return blast(argv[2], atoi(argv[3]), argv[4], atof(argv[5]), atof(argv[6]));
	fprintf(stderr, "usage: bench_handshake keys N | flood HOST PORT RESPONDER_PUB SECONDS < keys\n"
			"       | blast HOST PORT RESPONDER_PUB SECONDS RATE\n");
	return 2;
}

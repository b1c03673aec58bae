/* ratelimit: per-source token buckets for handshake messages under load,
 * as wireguard-go's ratelimiter: RATELIMIT_PER_SEC a second with a burst of
 * RATELIMIT_BURST per IPv4 address or IPv6 /64.  The table is bounded
 * (RATELIMIT_MAX sources; new sources are refused while it is full) and
 * forgets sources idle for RATELIMIT_IDLE_NS.  Time is the caller's clock
 * in nanoseconds, so tests run it on a fake one. */
#ifndef RATELIMIT_H
#define RATELIMIT_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMIT_PER_SEC 20
#define RATELIMIT_BURST 5
#define RATELIMIT_MAX 4096
#define RATELIMIT_IDLE_NS 1000000000ull

struct ratelimit;

/* What a source is: its address (IPv6: its /64), or its address and port
 * (what cookie replies are limited by, so a flood from one port does not
 * use up another's share). */
enum ratelimit_key { RATELIMIT_BY_ADDR, RATELIMIT_BY_ADDR_PORT };

/* A fresh table with a random hash key; NULL on out-of-memory. */
struct ratelimit *ratelimit_new(enum ratelimit_key key);
void ratelimit_free(struct ratelimit *rl);
/* True when one more message from SRC (AF_INET or AF_INET6) may be handled
 * at NOW; other families are refused. */
bool ratelimit_allow(struct ratelimit *rl, const struct sockaddr *src, uint64_t now);
/* Sources in the table (after forgetting the idle ones at NOW). */
unsigned ratelimit_count(struct ratelimit *rl, uint64_t now);

#endif

/* ctl_msg: the control protocol's messages, JSON objects with a version
 * "v" (CTL_MSG_VERSION) and a "type":
 *   node -> coordinator: register, update, ack
 *   coordinator -> node: register_result, map, delta
 *   both:                keepalive, close
 * Decoding is strict: an unknown version or type, a wrong type of value, a
 * missing required field or a value over its cap is refused with a reason;
 * unknown fields are ignored (a later minor addition must be optional).
 * See keygate-protocol(7) for every field. */
#ifndef CTL_MSG_H
#define CTL_MSG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_netmap.h"

#define CTL_MSG_VERSION 1
#define CTL_MSG_KEEPALIVE "{\"v\":1,\"type\":\"keepalive\"}"
#define CTL_MAX_AUTHKEY 512
#define CTL_MAX_REASON  1024

enum ctl_msg_type {
	CTL_MSG_REGISTER = 1,
	CTL_MSG_REGISTER_RESULT,
	CTL_MSG_UPDATE,
	CTL_MSG_MAP,
	CTL_MSG_DELTA,
	CTL_MSG_ACK,
	CTL_MSG_KEEPALIVE_T,
	CTL_MSG_CLOSE,
};

/* The node's first message on every connection. */
struct ctl_register {
	char *auth_key;			/* NULL: a known machine key reconnecting */
	uint8_t wg_key[32];
	char *hostname;
	struct ctl_prefixes routes;	/* advertised */
	struct ctl_endpoints endpoints;
};

struct ctl_register_result {
	bool ok;
	char *error;			/* when !ok: why */
	uint64_t node_id;		/* when ok */
	char *name;
	struct ctl_prefixes addresses;
};

/* Out-of-band changes to the node's nftables table that the node noticed
 * and repaired: how many, when the last was (Unix seconds), what it was. */
struct ctl_tamper {
	uint64_t count;
	uint64_t at;
	char *what;
};
#define CTL_MAX_TAMPER_TEXT 256

/* A route's service probe as its relay last ran it (issue 14): TARGET as
 * text, e.g. "tcp:8.8.8.8:443"; OK whether it passed. */
#define CTL_MAX_PROBES 16
#define CTL_PROBE_TEXT 64
struct ctl_probe {
	struct ctl_prefix prefix;
	char target[CTL_PROBE_TEXT];
	bool ok;
};

/* Present fields change; absent ones stay (TAMPER is a report only). */
struct ctl_update {
	bool has_wg_key, has_hostname, has_routes, has_endpoints, has_forwarding, has_tamper, has_probes;
	bool forwarding;		/* the node forwards what it advertises */
	uint8_t wg_key[32];
	char *hostname;
	struct ctl_prefixes routes;
	struct ctl_endpoints endpoints;
	struct ctl_tamper tamper;
	struct ctl_probe *probes;	/* every probe of the node, replacing the last report */
	size_t n_probes;
};

struct ctl_ack {
	uint64_t generation;
	char *error;			/* NULL: applied */
};

struct ctl_msg {
	enum ctl_msg_type type;
	union {
		struct ctl_register reg;
		struct ctl_register_result result;
		struct ctl_update update;
		struct ctl_netmap map;
		struct ctl_delta delta;
		struct ctl_ack ack;
		char *reason;		/* close */
	} u;
};

/* Compact JSON of M (NUL-terminated, *LEN without the NUL); NULL when out
 * of memory.  The caller frees it. */
char *ctl_msg_encode(const struct ctl_msg *m, size_t *len);
/* Decode LEN bytes of TEXT into M: 0, or -EINVAL with the reason in ERR
 * (ERRLEN bytes), -ENOMEM.  M needs ctl_msg_free after success only. */
int ctl_msg_decode(const char *text, size_t len, struct ctl_msg *m, char *err, size_t errlen);
void ctl_msg_free(struct ctl_msg *m);
const char *ctl_msg_type_name(enum ctl_msg_type t);
/* A close message with REASON, encoded. */
char *ctl_msg_close_text(const char *reason, size_t *len);

#endif

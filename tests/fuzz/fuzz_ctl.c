/* fuzz_ctl: the control protocol's decoders on arbitrary bytes.
 * Input: one mode byte, then the data.
 *   mode 0: a JSON message for ctl_msg_decode; one that decodes must encode
 *           and decode to the same text, a map must survive
 *           delta-then-apply from a fixed map, a delta is applied to it.
 *   mode 1: raw bytes on the wire to a fresh coordinator-side ctl_conn
 *           (frame headers, handshake frames).
 *   mode 2: after a real handshake, each [len16][bytes] piece of the data is
 *           sealed as one transport frame and fed to the coordinator end
 *           (the message assembler, caps, the message callback).
 *   mode 3: ctl_authkey_parse on the data as text.
 * Any refusal must be clean; a broken invariant traps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <sodium.h>

#include "ctl_authkey.h"
#include "ctl_conn.h"
#include "ctl_msg.h"

static struct ctl_identity node, coord;
static struct ctl_netmap base;
static int ready;

static void setup(void)
{
	uint8_t k[32];
	static const char *base_text =
		"{\"generation\":5,\"self\":{\"id\":1,\"name\":\"relay-1\",\"addresses\":[\"100.64.0.1/32\"]},"
		"\"peers\":[{\"id\":2,\"name\":\"alice\",\"wg_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\","
		"\"endpoints\":[\"198.51.100.1:41641\"],\"addresses\":[\"100.64.0.2/32\"],"
		"\"allowed_ips\":[\"100.64.0.2/32\"],\"keepalive\":25}],\"routes\":[\"8.8.8.8/32\"],"
		"\"filter\":[],\"snat\":true}";
	cJSON *j;

	if (sodium_init() < 0)
		__builtin_trap();
	memset(k, 0x11, 32);
	ctl_identity_init(&node, k);
	memset(k, 0x22, 32);
	ctl_identity_init(&coord, k);
	j = cJSON_Parse(base_text);
	if (ctl_netmap_from_json(j, &base, NULL) < 0)
		__builtin_trap();
	cJSON_Delete(j);
	ready = 1;
}

static int on_message(void *ctx, struct ctl_conn *c, const char *msg, size_t len)
{
	struct ctl_msg m;
	char err[128];

	(void)ctx;
	(void)c;
	if (ctl_msg_decode(msg, len, &m, err, sizeof(err)) == 0)
		ctl_msg_free(&m);
	return 0;
}

static void check_message(const uint8_t *data, size_t len)
{
	struct ctl_msg m, again;
	char err[128];
	size_t tlen, tlen2;
	char *text, *text2;

	if (ctl_msg_decode((const char *)data, len, &m, err, sizeof(err)) != 0)
		return;
	text = ctl_msg_encode(&m, &tlen);
	if (!text || ctl_msg_decode(text, tlen, &again, err, sizeof(err)) != 0)
		__builtin_trap();
	text2 = ctl_msg_encode(&again, &tlen2);
	if (!text2 || strcmp(text, text2) != 0)
		__builtin_trap();
	if (m.type == CTL_MSG_MAP) {
		struct ctl_delta d;
		struct ctl_netmap out;
		if (ctl_netmap_delta(&base, &m.u.map, &d) == 0) {
			if (ctl_netmap_apply(&base, &d, &out) != 0)
				__builtin_trap();
			char *a = ctl_netmap_encode(&out), *b = ctl_netmap_encode(&m.u.map);
			if (!a || !b || strcmp(a, b) != 0)
				__builtin_trap();
			free(a);
			free(b);
			ctl_netmap_free(&out);
			ctl_delta_free(&d);
		}
	} else if (m.type == CTL_MSG_DELTA) {
		struct ctl_netmap out;
		if (ctl_netmap_apply(&base, &m.u.delta, &out) == 0)
			ctl_netmap_free(&out);
	}
	free(text);
	free(text2);
	ctl_msg_free(&m);
	ctl_msg_free(&again);
}

static struct ctl_conn *responder(int fd)
{
	struct ctl_conn_config cfg = { .role = CTL_RESPONDER, .local = &coord, .on_message = on_message,
				       .max_message = 1 << 20 };

	return ctl_conn_new(fd, &cfg, 1);
}

static void wire_bytes(const uint8_t *data, size_t len)
{
	struct ctl_conn *c = responder(-1);

	if (c)
		(void)ctl_conn_feed(c, data, len, 2);
	ctl_conn_free(c);
}

/* A real handshake with a coordinator end over a socketpair; S gets the
 * node's session. */
static struct ctl_conn *handshake(struct ctl_session *s, int *peer_fd)
{
	uint8_t frame[CTL_FRAME_HDR_LEN + CTL_INIT_BODY_LEN], resp[CTL_FRAME_HDR_LEN + CTL_HS_RESP_LEN];
	struct ctl_hs hs;
	struct ctl_conn *c;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return NULL;
	c = responder(sv[0]);
	if (!c) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	ctl_frame_header(frame, CTL_FRAME_INITIATION, CTL_INIT_BODY_LEN);
	frame[3] = 0;
	frame[4] = CTL_PROTOCOL_VERSION;
	if (ctl_hs_initiate(&hs, &node, coord.public_key, NULL, frame + 5) != 0 ||
	    ctl_conn_feed(c, frame, sizeof(frame), 2) != 0 || ctl_conn_on_writable(c, 2) != 0 ||
	    read(sv[1], resp, sizeof(resp)) != (ssize_t)sizeof(resp) ||
	    ctl_hs_finish(&hs, resp + CTL_FRAME_HDR_LEN, CTL_HS_RESP_LEN, s) != 0)
		__builtin_trap();
	*peer_fd = sv[1];
	return c;
}

static void pieces(const uint8_t *data, size_t len)
{
	static uint8_t frame[CTL_FRAME_HDR_LEN + NSYM_MAX_MSG];
	struct ctl_session s;
	int peer;
	struct ctl_conn *c = handshake(&s, &peer);

	if (!c)
		return;
	while (len >= 2) {
		size_t n = (size_t)data[0] << 8 | data[1];
		data += 2;
		len -= 2;
		if (n > len)
			n = len;
		if (n > NSYM_MAX_PLAINTEXT)
			n = NSYM_MAX_PLAINTEXT;
		ctl_frame_header(frame, CTL_FRAME_TRANSPORT, (uint16_t)(n + NSYM_TAG_LEN));
		ctl_session_seal(&s, data, n, frame + CTL_FRAME_HDR_LEN);
		if (ctl_conn_feed(c, frame, CTL_FRAME_HDR_LEN + n + NSYM_TAG_LEN, 3) < 0)
			break;
		data += n;
		len -= n;
	}
	ctl_session_wipe(&s);
	ctl_conn_free(c);
	close(peer);
}

static void authkey(const uint8_t *data, size_t len)
{
	char text[CTL_AUTHKEY_MAX_TEXT + 8], back[CTL_AUTHKEY_MAX_TEXT];
	struct ctl_authkey k, k2;

	if (len >= sizeof(text))
		return;
	memcpy(text, data, len);
	text[len] = '\0';
	if (ctl_authkey_parse(&k, text) != 0)
		return;
	if (ctl_authkey_format(back, sizeof(back), &k) != 0 || ctl_authkey_parse(&k2, back) != 0 ||
	    memcmp(k.secret, k2.secret, 32) != 0 || k.port != k2.port || strcmp(k.host, k2.host) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		check_message(data + 1, size - 1);
		break;
	case 1:
		wire_bytes(data + 1, size - 1);
		break;
	case 2:
		pieces(data + 1, size - 1);
		break;
	case 3:
		authkey(data + 1, size - 1);
		break;
	}
	return 0;
}

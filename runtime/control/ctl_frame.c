/* ctl_frame: frames and message pieces. */
#include "ctl_frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void ctl_frame_header(uint8_t hdr[CTL_FRAME_HDR_LEN], uint8_t type, uint16_t body_len)
{
	hdr[0] = type;
	hdr[1] = (uint8_t)(body_len >> 8);
	hdr[2] = (uint8_t)body_len;
}

int ctl_frame_check(const uint8_t hdr[CTL_FRAME_HDR_LEN], size_t *body_len)
{
	size_t len = (size_t)hdr[1] << 8 | hdr[2];

	switch (hdr[0]) {
	case CTL_FRAME_INITIATION:
		if (len != CTL_INIT_BODY_LEN)
			return -EPROTO;
		break;
	case CTL_FRAME_RESPONSE:
		if (len != CTL_HS_RESP_LEN)
			return -EPROTO;
		break;
	case CTL_FRAME_TRANSPORT:
		if (len < NSYM_TAG_LEN)
			return -EPROTO;
		break;
	default:
		return -EPROTO;
	}
	*body_len = len;
	return 0;
}

size_t ctl_message_wire_len(size_t len)
{
	size_t plain = CTL_MSG_LEN_LEN + len;
	size_t pieces = (plain + NSYM_MAX_PLAINTEXT - 1) / NSYM_MAX_PLAINTEXT;

	return plain + pieces * (CTL_FRAME_HDR_LEN + NSYM_TAG_LEN);
}

int ctl_message_seal(struct ctl_session *s, const uint8_t *msg, size_t len, uint8_t *out)
{
	uint8_t piece[NSYM_MAX_PLAINTEXT];
	size_t done = 0;
	bool first = true;
	int rc = 0;

	if (len == 0 || len > CTL_MAX_MESSAGE)
		return -EMSGSIZE;
	while (first || done < len) {
		size_t off = 0, n;

		if (first) {
			for (int i = 0; i < CTL_MSG_LEN_LEN; i++)
				piece[i] = (uint8_t)(len >> (24 - 8 * i));
			off = CTL_MSG_LEN_LEN;
		}
		n = len - done;
		if (n > sizeof(piece) - off)
			n = sizeof(piece) - off;
		memcpy(piece + off, msg + done, n);
		ctl_frame_header(out, CTL_FRAME_TRANSPORT, (uint16_t)(off + n + NSYM_TAG_LEN));
		rc = ctl_session_seal(s, piece, off + n, out + CTL_FRAME_HDR_LEN);
		if (rc < 0)
			break;
		out += CTL_FRAME_HDR_LEN + off + n + NSYM_TAG_LEN;
		done += n;
		first = false;
	}
	sodium_memzero(piece, sizeof(piece));
	return rc;
}

void ctl_assembler_init(struct ctl_assembler *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->cap = cap;
}

int ctl_assembler_feed(struct ctl_assembler *a, const uint8_t *piece, size_t len)
{
	if (len == 0)
		return -EPROTO;
	if (!a->started) {
		size_t total = 0;

		if (len < CTL_MSG_LEN_LEN)
			return -EPROTO;
		for (int i = 0; i < CTL_MSG_LEN_LEN; i++)
			total = total << 8 | piece[i];
		if (total == 0)
			return -EPROTO;
		/* Refuse before allocating. */
		if (total > a->cap)
			return -EMSGSIZE;
		a->buf = malloc(total + 1);
		if (!a->buf)
			return -ENOMEM;
		a->len = total;
		a->have = 0;
		a->started = true;
		piece += CTL_MSG_LEN_LEN;
		len -= CTL_MSG_LEN_LEN;
	}
	if (len > a->len - a->have)
		return -EPROTO;
	memcpy(a->buf + a->have, piece, len);
	a->have += len;
	return a->have == a->len ? 1 : 0;
}

char *ctl_assembler_take(struct ctl_assembler *a, size_t *len)
{
	char *msg = (char *)a->buf;

	if (!a->started || a->have != a->len)
		return NULL;
	msg[a->len] = '\0';
	*len = a->len;
	a->buf = NULL;
	a->len = a->have = 0;
	a->started = false;
	return msg;
}

void ctl_assembler_free(struct ctl_assembler *a)
{
	free(a->buf);
	ctl_assembler_init(a, a->cap);
}

/* ctl_frame: the control connection's framing, and messages carried as one
 * or more Noise transport messages.  Pure code: buffers in and out.
 *
 * A frame is a 3-byte header (type, then the body length as a big-endian
 * 16-bit number) and the body:
 *   type 1 initiation: version (big-endian 16 bits, CTL_PROTOCOL_VERSION),
 *                      then the 108-byte Noise initiation       (110 bytes)
 *   type 2 response:   the 48-byte Noise response                (48 bytes)
 *   type 3 transport:  one Noise transport message, 16..65535 bytes
 * A body can never exceed 65535 bytes (the 16-bit length, and Noise's
 * message limit), so a reader needs no more than that per frame.
 *
 * A message (JSON text) of L bytes, 1 <= L <= CTL_MAX_MESSAGE, is the
 * plaintext 4-byte big-endian L followed by the L bytes, cut into pieces of
 * at most 65519 bytes (65535 less the tag), each sealed into one transport
 * frame with the next nonce.  The receiver learns L from the first piece and
 * refuses one over its cap before it allocates anything; a piece that runs
 * past L, an empty piece, or L = 0 is a protocol error.  Messages do not
 * interleave: the next message starts with the next frame after the last
 * piece. */
#ifndef CTL_FRAME_H
#define CTL_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_hs.h"

#define CTL_FRAME_HDR_LEN      3
#define CTL_FRAME_INITIATION   1
#define CTL_FRAME_RESPONSE     2
#define CTL_FRAME_TRANSPORT    3
#define CTL_FRAME_MAX_BODY     NSYM_MAX_MSG
#define CTL_INIT_BODY_LEN      (2 + CTL_HS_INIT_LEN)
#define CTL_MSG_LEN_LEN        4
#define CTL_MAX_MESSAGE        (16u << 20)	/* 16 MiB: the default cap */

void ctl_frame_header(uint8_t hdr[CTL_FRAME_HDR_LEN], uint8_t type, uint16_t body_len);
/* The body length a header announces, after checking the type and that the
 * length fits it: 0, or -EPROTO for an unknown type or a wrong length. */
int ctl_frame_check(const uint8_t hdr[CTL_FRAME_HDR_LEN], size_t *body_len);

/* Bytes on the wire (frames included) of a message of LEN bytes. */
size_t ctl_message_wire_len(size_t len);
/* Seal MSG into transport frames at OUT (ctl_message_wire_len(LEN) bytes).
 * 0, -EMSGSIZE (LEN is 0 or over CTL_MAX_MESSAGE), -EOVERFLOW. */
int ctl_message_seal(struct ctl_session *s, const uint8_t *msg, size_t len, uint8_t *out);

/* Reassembles the pieces of one message at a time. */
struct ctl_assembler {
	uint8_t *buf;
	size_t len, have;
	size_t cap;		/* largest message accepted */
	bool started;
};

void ctl_assembler_init(struct ctl_assembler *a, size_t cap);
/* Feed one decrypted piece.  1: a message is complete (ctl_assembler_take
 * it), 0: more to come, -EMSGSIZE over the cap, -EPROTO malformed,
 * -ENOMEM. */
int ctl_assembler_feed(struct ctl_assembler *a, const uint8_t *piece, size_t len);
/* The complete message, NUL-terminated (the NUL not counted in *LEN); the
 * caller frees it.  The assembler is ready for the next. */
char *ctl_assembler_take(struct ctl_assembler *a, size_t *len);
void ctl_assembler_free(struct ctl_assembler *a);

#endif

/* ctl_hs: Noise_IK for the control connection. */
#include "ctl_hs.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

/* Offsets in the initiation: e, encrypted s, encrypted timestamp. */
#define INIT_E  0
#define INIT_S  32
#define INIT_TS (INIT_S + CTL_KEY_LEN + NSYM_TAG_LEN)
/* In the response: e, then the encrypted empty payload. */
#define RESP_E     0
#define RESP_EMPTY 32

static void ctl_clamp(uint8_t k[CTL_KEY_LEN])
{
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
}

int ctl_identity_init(struct ctl_identity *id, const uint8_t private_key[CTL_KEY_LEN])
{
	memcpy(id->private_key, private_key, CTL_KEY_LEN);
	ctl_clamp(id->private_key);
	if (crypto_scalarmult_base(id->public_key, id->private_key) != 0) {
		ctl_identity_wipe(id);
		return -EINVAL;
	}
	return 0;
}

void ctl_identity_generate(struct ctl_identity *id)
{
	uint8_t k[CTL_KEY_LEN];

	randombytes_buf(k, sizeof(k));
	ctl_identity_init(id, k);
	sodium_memzero(k, sizeof(k));
}

void ctl_identity_wipe(struct ctl_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

/* h, ck after the protocol name, the prologue and the pre-message <- s. */
static void ctl_hs_start(uint8_t ck[NSYM_HASH_LEN], uint8_t h[NSYM_HASH_LEN],
			 const uint8_t responder_static[CTL_KEY_LEN])
{
	nsym_initialize(ck, h, CTL_NOISE_NAME);
	nsym_mix_hash(h, CTL_PROLOGUE, strlen(CTL_PROLOGUE));
	nsym_mix_hash(h, responder_static, CTL_KEY_LEN);
}

static int ctl_ephemeral(uint8_t priv[CTL_KEY_LEN], uint8_t pub[CTL_KEY_LEN], const struct ctl_det *det)
{
	if (det && det->ephemeral_private)
		memcpy(priv, det->ephemeral_private, CTL_KEY_LEN);
	else
		randombytes_buf(priv, CTL_KEY_LEN);
	ctl_clamp(priv);
	return crypto_scalarmult_base(pub, priv) == 0 ? 0 : -EKEYREJECTED;
}

static void ctl_session_from(struct ctl_session *s, const uint8_t ck[NSYM_HASH_LEN],
			     const uint8_t h[NSYM_HASH_LEN], const uint8_t rs[CTL_KEY_LEN], bool initiator)
{
	memset(s, 0, sizeof(*s));
	if (initiator)
		nsym_split(s->send_key, s->recv_key, ck);
	else
		nsym_split(s->recv_key, s->send_key, ck);
	memcpy(s->remote_static, rs, CTL_KEY_LEN);
	memcpy(s->handshake_hash, h, NSYM_HASH_LEN);
	s->valid = true;
}

void ctl_hs_wipe(struct ctl_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

int ctl_hs_initiate(struct ctl_hs *hs, const struct ctl_identity *local,
		    const uint8_t server_key[CTL_KEY_LEN], const struct ctl_det *det,
		    uint8_t out[CTL_HS_INIT_LEN])
{
	uint8_t key[NSYM_KEY_LEN], dh[32], ts[TAI64N_LEN];
	int rc;

	ctl_hs_wipe(hs);
	memcpy(hs->rs, server_key, CTL_KEY_LEN);
	memcpy(hs->s_priv, local->private_key, CTL_KEY_LEN);
	ctl_hs_start(hs->ck, hs->h, server_key);
	/* e */
	rc = ctl_ephemeral(hs->e_priv, out + INIT_E, det);
	if (rc < 0)
		goto wipe;
	nsym_mix_hash(hs->h, out + INIT_E, 32);
	/* es */
	rc = nsym_dh(dh, hs->e_priv, server_key);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(hs->ck, key, dh, sizeof(dh));
	/* s */
	nsym_encrypt_and_hash(out + INIT_S, local->public_key, CTL_KEY_LEN, key, hs->h);
	/* ss */
	rc = nsym_dh(dh, local->private_key, server_key);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(hs->ck, key, dh, sizeof(dh));
	/* {timestamp} */
	if (det && det->timestamp)
		memcpy(ts, det->timestamp, sizeof(ts));
	else
		tai64n_now(ts);
	nsym_encrypt_and_hash(out + INIT_TS, ts, sizeof(ts), key, hs->h);
	hs->pending = true;
wipe:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(ts, sizeof(ts));
	if (rc < 0) {
		ctl_hs_wipe(hs);
		sodium_memzero(out, CTL_HS_INIT_LEN);
	}
	return rc;
}

int ctl_hs_finish(struct ctl_hs *hs, const uint8_t *msg, size_t len, struct ctl_session *s)
{
	uint8_t key[NSYM_KEY_LEN], dh[32], none[1];
	int rc;

	if (!hs->pending || len != CTL_HS_RESP_LEN) {
		rc = -EINVAL;
		goto wipe;
	}
	/* e */
	nsym_mix_hash(hs->h, msg + RESP_E, 32);
	/* ee */
	rc = nsym_dh(dh, hs->e_priv, msg + RESP_E);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(hs->ck, NULL, dh, sizeof(dh));
	/* se */
	rc = nsym_dh(dh, hs->s_priv, msg + RESP_E);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(hs->ck, key, dh, sizeof(dh));
	/* {} */
	rc = nsym_decrypt_and_hash(none, msg + RESP_EMPTY, 0, key, hs->h);
	if (rc < 0)
		goto wipe;
	ctl_session_from(s, hs->ck, hs->h, hs->rs, true);
wipe:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(dh, sizeof(dh));
	ctl_hs_wipe(hs);
	return rc;
}

/* Strictly newer than the record, or no record. */
static int ctl_check_timestamp(const uint8_t ts[TAI64N_LEN], const uint8_t machine_key[CTL_KEY_LEN],
			       ctl_last_seen_fn last_seen, void *ctx)
{
	uint8_t seen[TAI64N_LEN];

	if (!last_seen || !last_seen(ctx, machine_key, seen))
		return 0;
	/* TAI64N is big-endian: byte order is time order. */
	return memcmp(ts, seen, TAI64N_LEN) > 0 ? 0 : -ESTALE;
}

int ctl_hs_respond(const struct ctl_identity *local, const uint8_t *msg, size_t len,
		   ctl_last_seen_fn last_seen, void *ctx, const struct ctl_det *det,
		   uint8_t out[CTL_HS_RESP_LEN], struct ctl_session *s, uint8_t ts[TAI64N_LEN])
{
	uint8_t h[NSYM_HASH_LEN], ck[NSYM_HASH_LEN], key[NSYM_KEY_LEN], dh[32];
	uint8_t e_priv[CTL_KEY_LEN], rs[CTL_KEY_LEN];
	const uint8_t *re = msg + INIT_E;
	int rc;

	memset(s, 0, sizeof(*s));
	if (len != CTL_HS_INIT_LEN)
		return -EINVAL;
	ctl_hs_start(ck, h, local->public_key);
	/* e */
	nsym_mix_hash(h, re, 32);
	/* es */
	rc = nsym_dh(dh, local->private_key, re);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(ck, key, dh, sizeof(dh));
	/* s */
	rc = nsym_decrypt_and_hash(rs, msg + INIT_S, CTL_KEY_LEN, key, h);
	if (rc < 0)
		goto wipe;
	/* ss */
	rc = nsym_dh(dh, local->private_key, rs);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(ck, key, dh, sizeof(dh));
	/* {timestamp} */
	rc = nsym_decrypt_and_hash(ts, msg + INIT_TS, TAI64N_LEN, key, h);
	if (rc < 0)
		goto wipe;
	rc = ctl_check_timestamp(ts, rs, last_seen, ctx);
	if (rc < 0)
		goto wipe;

	/* e */
	rc = ctl_ephemeral(e_priv, out + RESP_E, det);
	if (rc < 0)
		goto wipe;
	nsym_mix_hash(h, out + RESP_E, 32);
	/* ee */
	rc = nsym_dh(dh, e_priv, re);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(ck, NULL, dh, sizeof(dh));
	/* se */
	rc = nsym_dh(dh, e_priv, rs);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(ck, key, dh, sizeof(dh));
	/* {} */
	nsym_encrypt_and_hash(out + RESP_EMPTY, (const uint8_t *)"", 0, key, h);
	ctl_session_from(s, ck, h, rs, false);
wipe:
	sodium_memzero(h, sizeof(h));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(e_priv, sizeof(e_priv));
	sodium_memzero(rs, sizeof(rs));
	if (rc < 0) {
		sodium_memzero(out, CTL_HS_RESP_LEN);
		sodium_memzero(ts, TAI64N_LEN);
	}
	return rc;
}

int ctl_session_seal(struct ctl_session *s, const uint8_t *in, size_t len, uint8_t *out)
{
	if (!s->valid)
		return -EINVAL;
	if (len > NSYM_MAX_PLAINTEXT)
		return -EMSGSIZE;
	if (s->send_counter == UINT64_MAX)
		return -EOVERFLOW;
	nsym_seal(out, in, len, s->send_key, s->send_counter++, NULL, 0);
	return 0;
}

int ctl_session_open(struct ctl_session *s, const uint8_t *in, size_t len, uint8_t *out)
{
	if (!s->valid)
		return -EINVAL;
	if (len < NSYM_TAG_LEN || len > NSYM_MAX_MSG)
		return -EMSGSIZE;
	if (s->recv_counter == UINT64_MAX)
		return -EOVERFLOW;
	if (nsym_open(out, in, len - NSYM_TAG_LEN, s->recv_key, s->recv_counter, NULL, 0) < 0)
		return -EBADMSG;
	s->recv_counter++;
	return 0;
}

void ctl_session_wipe(struct ctl_session *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* noise: WireGuard's Noise_IKpsk2 handshake and session keypairs. */
#include "noise.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "blake2s.h"
#include "nsym.h"
#include "tai64n.h"

/* Message offsets. */
#define INIT_SENDER    4
#define INIT_EPHEMERAL 8
#define INIT_STATIC    40
#define INIT_TIMESTAMP 88
#define RESP_SENDER    4
#define RESP_RECEIVER  8
#define RESP_EPHEMERAL 12
#define RESP_EMPTY     44

static inline void noise_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t noise_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* C0 = HASH(construction), H0 = HASH(C0 || identifier); computed once. */
static uint8_t noise_c0[32], noise_h0[32];
static pthread_once_t noise_once = PTHREAD_ONCE_INIT;

static void noise_initial_compute(void)
{
	nsym_initialize(noise_c0, noise_h0, NOISE_CONSTRUCTION);
	nsym_mix_hash(noise_h0, NOISE_IDENTIFIER, strlen(NOISE_IDENTIFIER));
}

static void noise_initial(uint8_t ck[32], uint8_t h[32])
{
	pthread_once(&noise_once, noise_initial_compute);
	if (ck)
		memcpy(ck, noise_c0, 32);
	if (h)
		memcpy(h, noise_h0, 32);
}

/* ---- keys ---- */

void noise_clamp(uint8_t key[NOISE_KEY_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void noise_keygen(uint8_t priv[NOISE_KEY_LEN])
{
	randombytes_buf(priv, NOISE_KEY_LEN);
	noise_clamp(priv);
}

int noise_pubkey(uint8_t pub[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN])
{
	uint8_t k[NOISE_KEY_LEN];
	int rc = 0;

	memcpy(k, priv, sizeof(k));
	noise_clamp(k);
	if (crypto_scalarmult_base(pub, k) != 0)
		rc = -EINVAL;
	sodium_memzero(k, sizeof(k));
	return rc;
}

void noise_key_to_base64(char out[NOISE_KEY_B64_LEN + 1], const uint8_t key[NOISE_KEY_LEN])
{
	sodium_bin2base64(out, NOISE_KEY_B64_LEN + 1, key, NOISE_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int noise_key_from_base64(uint8_t key[NOISE_KEY_LEN], const char *b64)
{
	uint8_t tmp[NOISE_KEY_LEN];
	size_t binlen = 0;
	const char *end = NULL;
	int rc = -EINVAL;

	if (!b64 || strlen(b64) != NOISE_KEY_B64_LEN || b64[NOISE_KEY_B64_LEN - 1] != '=')
		return -EINVAL;
	if (sodium_base642bin(tmp, sizeof(tmp), b64, NOISE_KEY_B64_LEN, NULL, &binlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		goto wipe;
	if (binlen != NOISE_KEY_LEN || end != b64 + NOISE_KEY_B64_LEN)
		goto wipe;
	memcpy(key, tmp, NOISE_KEY_LEN);
	rc = 0;
wipe:
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}

void noise_tai64n_at(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec)
{
	tai64n_at(out, unix_sec, nsec);
}

void noise_tai64n_now(uint8_t out[NOISE_TIMESTAMP_LEN])
{
	tai64n_now(out);
}

/* ---- dispatch helpers ---- */

int noise_msg_type(const uint8_t *msg, size_t len)
{
	if (len < 4 || msg[1] || msg[2] || msg[3])
		return 0;
	switch (msg[0]) {
	case NOISE_MSG_INITIATION:
		return len == NOISE_INITIATION_LEN ? NOISE_MSG_INITIATION : 0;
	case NOISE_MSG_RESPONSE:
		return len == NOISE_RESPONSE_LEN ? NOISE_MSG_RESPONSE : 0;
	case NOISE_MSG_COOKIE:
		return len == COOKIE_REPLY_LEN ? NOISE_MSG_COOKIE : 0;
	case NOISE_MSG_TRANSPORT:
		return len >= 32 ? NOISE_MSG_TRANSPORT : 0;
	default:
		return 0;
	}
}

uint32_t noise_msg_receiver(const uint8_t *msg, size_t len)
{
	switch (noise_msg_type(msg, len)) {
	case NOISE_MSG_RESPONSE:
		return noise_get_le32(msg + RESP_RECEIVER);
	case NOISE_MSG_COOKIE:
	case NOISE_MSG_TRANSPORT:
		return noise_get_le32(msg + 4);
	default:
		return 0;
	}
}

/* ---- identities ---- */

int noise_local_init(struct noise_local *l, const uint8_t priv[NOISE_KEY_LEN])
{
	noise_local_wipe(l);
	if (noise_pubkey(l->public_key, priv) < 0)
		return -EINVAL;
	memcpy(l->private_key, priv, NOISE_KEY_LEN);
	noise_initial(NULL, l->hash_init);
	nsym_mix_hash(l->hash_init, l->public_key, NOISE_KEY_LEN);
	cookie_checker_init(&l->cookie, l->public_key);
	l->has_identity = true;
	return 0;
}

void noise_local_wipe(struct noise_local *l)
{
	sodium_memzero(l, sizeof(*l));
}

int noise_peer_set_local(struct noise_peer *p, const struct noise_local *l)
{
	noise_handshake_clear(p);
	p->ss_valid = false;
	if (!l || !l->has_identity) {
		sodium_memzero(p->precomputed_ss, sizeof(p->precomputed_ss));
		return 0;
	}
	if (nsym_dh(p->precomputed_ss, l->private_key, p->remote_static) < 0)
		return -EKEYREJECTED;
	p->ss_valid = true;
	return 0;
}

int noise_peer_init(struct noise_peer *p, const struct noise_local *l,
		    const uint8_t remote_pub[NOISE_KEY_LEN], const uint8_t *psk)
{
	sodium_memzero(p, sizeof(*p));
	memcpy(p->remote_static, remote_pub, NOISE_KEY_LEN);
	noise_peer_set_psk(p, psk);
	cookie_maker_init(&p->cookie, remote_pub);
	return noise_peer_set_local(p, l);
}

void noise_peer_set_psk(struct noise_peer *p, const uint8_t *psk)
{
	if (psk)
		memcpy(p->psk, psk, NOISE_KEY_LEN);
	else
		sodium_memzero(p->psk, NOISE_KEY_LEN);
}

void noise_handshake_clear(struct noise_peer *p)
{
	p->state = NOISE_HS_ZEROED;
	sodium_memzero(p->hash, sizeof(p->hash));
	sodium_memzero(p->chaining_key, sizeof(p->chaining_key));
	sodium_memzero(p->ephemeral_private, sizeof(p->ephemeral_private));
	sodium_memzero(p->remote_ephemeral, sizeof(p->remote_ephemeral));
	p->local_index = p->remote_index = 0;
}

void noise_peer_wipe(struct noise_peer *p)
{
	sodium_memzero(p, sizeof(*p));
}

/* ---- handshake ---- */

static void noise_ephemeral(uint8_t priv[32], const struct noise_det *det)
{
	if (det && det->ephemeral_private)
		memcpy(priv, det->ephemeral_private, 32);
	else
		randombytes_buf(priv, 32);
	noise_clamp(priv);
}

int noise_create_initiation(struct noise_peer *p, const struct noise_local *l,
			    uint32_t local_index, uint64_t now, const struct noise_det *det,
			    uint8_t out[NOISE_INITIATION_LEN])
{
	uint8_t h[32], ck[32], key[32], dh[32], eph[32], ts[NOISE_TIMESTAMP_LEN];
	int rc;

	if (!l->has_identity)
		return -ENOKEY;
	if (!p->ss_valid)
		return -EKEYREJECTED;
	noise_initial(ck, h);
	nsym_mix_hash(h, p->remote_static, NOISE_KEY_LEN);

	memset(out, 0, NOISE_INITIATION_LEN);
	out[0] = NOISE_MSG_INITIATION;
	noise_put_le32(out + INIT_SENDER, local_index);

	/* e */
	noise_ephemeral(eph, det);
	if (crypto_scalarmult_base(out + INIT_EPHEMERAL, eph) != 0) {
		rc = -EKEYREJECTED;
		goto wipe;
	}
	nsym_mix_hash(h, out + INIT_EPHEMERAL, 32);
	nsym_mix_key(ck, NULL, out + INIT_EPHEMERAL, 32);
	/* es */
	rc = nsym_dh(dh, eph, p->remote_static);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(ck, key, dh, 32);
	/* s */
	nsym_encrypt_and_hash(out + INIT_STATIC, l->public_key, NOISE_KEY_LEN, key, h);
	/* ss */
	nsym_mix_key(ck, key, p->precomputed_ss, 32);
	/* {t} */
	if (det && det->timestamp)
		memcpy(ts, det->timestamp, sizeof(ts));
	else
		noise_tai64n_now(ts);
	nsym_encrypt_and_hash(out + INIT_TIMESTAMP, ts, sizeof(ts), key, h);

	noise_handshake_clear(p);
	memcpy(p->hash, h, 32);
	memcpy(p->chaining_key, ck, 32);
	memcpy(p->ephemeral_private, eph, 32);
	p->local_index = local_index;
	p->state = NOISE_HS_CREATED_INITIATION;
	cookie_add_macs(&p->cookie, out, NOISE_INITIATION_LEN, now);
	rc = 0;
wipe:
	sodium_memzero(h, sizeof(h));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(eph, sizeof(eph));
	sodium_memzero(ts, sizeof(ts));
	if (rc < 0)
		sodium_memzero(out, NOISE_INITIATION_LEN);
	return rc;
}

void noise_initiation_wipe(struct noise_initiation *st)
{
	sodium_memzero(st, sizeof(*st));
}

int noise_initiation_open(const struct noise_local *l, const uint8_t *msg, size_t len,
			  struct noise_initiation *st)
{
	uint8_t key[32], dh[32];
	int rc;

	memset(st, 0, sizeof(*st));
	if (noise_msg_type(msg, len) != NOISE_MSG_INITIATION)
		return -EINVAL;
	if (!l->has_identity)
		return -ENOKEY;
	if (!cookie_check_mac1(&l->cookie, msg, len))
		return -EBADMSG;

	noise_initial(st->chaining_key, NULL);
	memcpy(st->hash, l->hash_init, 32);
	/* e */
	memcpy(st->remote_ephemeral, msg + INIT_EPHEMERAL, 32);
	nsym_mix_hash(st->hash, st->remote_ephemeral, 32);
	nsym_mix_key(st->chaining_key, NULL, st->remote_ephemeral, 32);
	/* es */
	rc = nsym_dh(dh, l->private_key, st->remote_ephemeral);
	if (rc < 0)
		goto wipe;
	nsym_mix_key(st->chaining_key, key, dh, 32);
	/* s */
	rc = nsym_decrypt_and_hash(st->remote_static, msg + INIT_STATIC, NOISE_KEY_LEN, key, st->hash);
	if (rc < 0)
		goto wipe;
	memcpy(st->enc_timestamp, msg + INIT_TIMESTAMP, sizeof(st->enc_timestamp));
	st->sender_index = noise_get_le32(msg + INIT_SENDER);
wipe:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(dh, sizeof(dh));
	if (rc < 0)
		noise_initiation_wipe(st);
	return rc;
}

int noise_initiation_accept(struct noise_peer *p, const struct noise_local *l,
			    struct noise_initiation *st, uint64_t now)
{
	uint8_t key[32], ts[NOISE_TIMESTAMP_LEN];
	int rc;

	if (!l->has_identity) {
		rc = -ENOKEY;
		goto wipe;
	}
	if (sodium_memcmp(p->remote_static, st->remote_static, NOISE_KEY_LEN) != 0) {
		rc = -ESRCH;
		goto wipe;
	}
	if (!p->ss_valid) {
		rc = -EKEYREJECTED;
		goto wipe;
	}
	/* ss */
	nsym_mix_key(st->chaining_key, key, p->precomputed_ss, 32);
	/* {t} */
	rc = nsym_decrypt_and_hash(ts, st->enc_timestamp, NOISE_TIMESTAMP_LEN, key, st->hash);
	if (rc < 0)
		goto wipe;
	/* TAI64N is big-endian: byte order is time order. */
	if (memcmp(ts, p->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0) {
		rc = -ESTALE;
		goto wipe;
	}
	if (p->last_initiation_consumption && now >= p->last_initiation_consumption &&
	    now - p->last_initiation_consumption <= NOISE_INITIATION_RATE_NS) {
		rc = -EBUSY;
		goto wipe;
	}
	noise_handshake_clear(p);
	memcpy(p->hash, st->hash, 32);
	memcpy(p->chaining_key, st->chaining_key, 32);
	memcpy(p->remote_ephemeral, st->remote_ephemeral, 32);
	p->remote_index = st->sender_index;
	memcpy(p->latest_timestamp, ts, NOISE_TIMESTAMP_LEN);
	if (now > p->last_initiation_consumption)
		p->last_initiation_consumption = now;
	p->state = NOISE_HS_CONSUMED_INITIATION;
	rc = 0;
wipe:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ts, sizeof(ts));
	noise_initiation_wipe(st);
	return rc;
}

/* The response's key schedule, shared by both sides: from (H, C) after the
 * initiation, mix in E_r, DH(e_r, E_i) = DH(e_i, E_r), DH(e_r, S_i) =
 * DH(s_i, E_r) and the PSK; KEY gets the key for the empty payload. */
static void noise_response_mix(uint8_t h[32], uint8_t ck[32], uint8_t key[32],
			       const uint8_t eph_r_pub[32], const uint8_t dh_ee[32],
			       const uint8_t dh_se[32], const uint8_t psk[32])
{
	uint8_t tau[32];

	nsym_mix_hash(h, eph_r_pub, 32);
	nsym_mix_key(ck, NULL, eph_r_pub, 32);
	nsym_mix_key(ck, NULL, dh_ee, 32);
	nsym_mix_key(ck, NULL, dh_se, 32);
	blake2s_kdf3(ck, tau, key, ck, psk, 32);
	nsym_mix_hash(h, tau, 32);
	sodium_memzero(tau, sizeof(tau));
}

int noise_create_response(struct noise_peer *p, uint32_t local_index, uint64_t now,
			  const struct noise_det *det, uint8_t out[NOISE_RESPONSE_LEN])
{
	uint8_t h[32], ck[32], key[32], ee[32], se[32], eph[32];
	int rc;

	if (p->state != NOISE_HS_CONSUMED_INITIATION)
		return -EINVAL;
	memcpy(h, p->hash, 32);
	memcpy(ck, p->chaining_key, 32);
	memset(out, 0, NOISE_RESPONSE_LEN);
	out[0] = NOISE_MSG_RESPONSE;
	noise_put_le32(out + RESP_SENDER, local_index);
	noise_put_le32(out + RESP_RECEIVER, p->remote_index);

	noise_ephemeral(eph, det);
	if (crypto_scalarmult_base(out + RESP_EPHEMERAL, eph) != 0) {
		rc = -EKEYREJECTED;
		goto wipe;
	}
	rc = nsym_dh(ee, eph, p->remote_ephemeral);
	if (rc < 0)
		goto wipe;
	rc = nsym_dh(se, eph, p->remote_static);
	if (rc < 0)
		goto wipe;
	noise_response_mix(h, ck, key, out + RESP_EPHEMERAL, ee, se, p->psk);
	nsym_encrypt_and_hash(out + RESP_EMPTY, (const uint8_t *)"", 0, key, h);

	memcpy(p->hash, h, 32);
	memcpy(p->chaining_key, ck, 32);
	sodium_memzero(p->remote_ephemeral, sizeof(p->remote_ephemeral));
	p->local_index = local_index;
	p->state = NOISE_HS_CREATED_RESPONSE;
	cookie_add_macs(&p->cookie, out, NOISE_RESPONSE_LEN, now);
	rc = 0;
wipe:
	sodium_memzero(h, sizeof(h));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ee, sizeof(ee));
	sodium_memzero(se, sizeof(se));
	sodium_memzero(eph, sizeof(eph));
	if (rc < 0)
		sodium_memzero(out, NOISE_RESPONSE_LEN);
	return rc;
}

int noise_consume_response(struct noise_peer *p, const struct noise_local *l,
			   const uint8_t *msg, size_t len)
{
	uint8_t h[32], ck[32], key[32], ee[32], se[32], none[1];
	int rc;

	if (noise_msg_type(msg, len) != NOISE_MSG_RESPONSE)
		return -EINVAL;
	if (!l->has_identity)
		return -ENOKEY;
	if (p->state != NOISE_HS_CREATED_INITIATION || noise_get_le32(msg + RESP_RECEIVER) != p->local_index)
		return -ESRCH;
	if (!cookie_check_mac1(&l->cookie, msg, len))
		return -EBADMSG;

	memcpy(h, p->hash, 32);
	memcpy(ck, p->chaining_key, 32);
	rc = nsym_dh(ee, p->ephemeral_private, msg + RESP_EPHEMERAL);
	if (rc < 0)
		goto wipe;
	rc = nsym_dh(se, l->private_key, msg + RESP_EPHEMERAL);
	if (rc < 0)
		goto wipe;
	noise_response_mix(h, ck, key, msg + RESP_EPHEMERAL, ee, se, p->psk);
	rc = nsym_decrypt_and_hash(none, msg + RESP_EMPTY, 0, key, h);
	if (rc < 0)
		goto wipe;

	memcpy(p->hash, h, 32);
	memcpy(p->chaining_key, ck, 32);
	sodium_memzero(p->ephemeral_private, sizeof(p->ephemeral_private));
	p->remote_index = noise_get_le32(msg + RESP_SENDER);
	p->state = NOISE_HS_CONSUMED_RESPONSE;
wipe:
	sodium_memzero(h, sizeof(h));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ee, sizeof(ee));
	sodium_memzero(se, sizeof(se));
	return rc;
}

int noise_derive_keypair(struct noise_peer *p, struct noise_keypair *kp, uint64_t now)
{
	bool initiator;

	if (p->state == NOISE_HS_CONSUMED_RESPONSE)
		initiator = true;
	else if (p->state == NOISE_HS_CREATED_RESPONSE)
		initiator = false;
	else
		return -EINVAL;
	memset(kp, 0, sizeof(*kp));
	if (initiator)
		nsym_split(kp->send_key, kp->recv_key, p->chaining_key);
	else
		nsym_split(kp->recv_key, kp->send_key, p->chaining_key);
	replay_init(&kp->replay);
	kp->is_initiator = initiator;
	kp->birth = now;
	kp->local_index = p->local_index;
	kp->remote_index = p->remote_index;
	kp->valid = true;
	noise_handshake_clear(p);
	return 0;
}

/* ---- keypairs ---- */

void noise_keypair_wipe(struct noise_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

bool noise_keypair_can_send(const struct noise_keypair *kp, uint64_t now)
{
	return kp && kp->valid && kp->send_counter < NOISE_REJECT_AFTER_MESSAGES &&
	       now >= kp->birth && now - kp->birth < NOISE_REJECT_AFTER_TIME_NS;
}

bool noise_keypair_can_receive(const struct noise_keypair *kp, uint64_t now)
{
	return kp && kp->valid && now >= kp->birth && now - kp->birth < NOISE_REJECT_AFTER_TIME_NS;
}

void noise_keypairs_init(struct noise_keypairs *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* Wipe *PP's slot, note its index, clear the pointer. */
static void noise_keypairs_drop(struct noise_keypair **pp, uint32_t *dropped, size_t *ndropped)
{
	if (!*pp)
		return;
	dropped[(*ndropped)++] = (*pp)->local_index;
	noise_keypair_wipe(*pp);
	*pp = NULL;
}

struct noise_keypair *noise_keypairs_install(struct noise_keypairs *k, struct noise_keypair *new_kp,
					     uint32_t dropped[3], size_t *ndropped)
{
	struct noise_keypair *slot = NULL;

	*ndropped = 0;
	if (new_kp->is_initiator) {
		if (k->next) {
			noise_keypairs_drop(&k->previous, dropped, ndropped);
			noise_keypairs_drop(&k->current, dropped, ndropped);
			k->previous = k->next;
			k->next = NULL;
		} else {
			noise_keypairs_drop(&k->previous, dropped, ndropped);
			k->previous = k->current;
			k->current = NULL;
		}
	} else {
		noise_keypairs_drop(&k->next, dropped, ndropped);
		noise_keypairs_drop(&k->previous, dropped, ndropped);
	}
	for (int i = 0; i < 3; i++) {
		struct noise_keypair *s = &k->slot[i];
		if (s != k->current && s != k->previous && s != k->next) {
			slot = s;
			break;
		}
	}
	/* At most two slots are live here, so one is free. */
	*slot = *new_kp;
	noise_keypair_wipe(new_kp);
	if (slot->is_initiator)
		k->current = slot;
	else
		k->next = slot;
	return slot;
}

bool noise_keypairs_received(struct noise_keypairs *k, struct noise_keypair *kp,
			     uint32_t dropped[1], size_t *ndropped)
{
	*ndropped = 0;
	if (!kp || kp != k->next)
		return false;
	noise_keypairs_drop(&k->previous, dropped, ndropped);
	k->previous = k->current;
	k->current = k->next;
	k->next = NULL;
	return true;
}

struct noise_keypair *noise_keypairs_lookup(struct noise_keypairs *k, uint32_t idx)
{
	struct noise_keypair *live[3] = { k->current, k->previous, k->next };

	for (int i = 0; i < 3; i++)
		if (live[i] && live[i]->valid && live[i]->local_index == idx)
			return live[i];
	return NULL;
}

void noise_keypairs_clear(struct noise_keypairs *k, uint32_t dropped[3], size_t *ndropped)
{
	*ndropped = 0;
	noise_keypairs_drop(&k->current, dropped, ndropped);
	noise_keypairs_drop(&k->previous, dropped, ndropped);
	noise_keypairs_drop(&k->next, dropped, ndropped);
	sodium_memzero(k->slot, sizeof(k->slot));
}

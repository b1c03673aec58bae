/* transport: WireGuard data messages, encrypted and decrypted in place. */
#include "transport.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

static inline void transport_nonce(uint8_t nonce[12], const uint8_t *counter_le)
{
	memset(nonce, 0, 4);
	memcpy(nonce + 4, counter_le, 8);
}

size_t transport_padded_len(size_t plain_len, size_t mtu)
{
	size_t last = plain_len, unit;

	if (!mtu)
		return (plain_len + 15) & ~(size_t)15;
	/* As the kernel and wireguard-go: pad the last MTU-sized unit. */
	if (last > mtu)
		last %= mtu;
	unit = (last + 15) & ~(size_t)15;
	if (unit > mtu)
		unit = mtu;
	return plain_len + (unit - last);
}

uint64_t transport_counter(const uint8_t *msg)
{
	uint64_t c = 0;

	for (int i = 7; i >= 0; i--)
		c = c << 8 | msg[8 + i];
	return c;
}

int transport_encrypt(struct noise_keypair *kp, uint8_t *buf, size_t cap, size_t plain_len,
		      size_t mtu, uint64_t now, size_t *out_len)
{
	uint8_t nonce[12];
	size_t padded = transport_padded_len(plain_len, mtu);

	if (!kp || !kp->valid)
		return -ENOKEY;
	if (!noise_keypair_can_send(kp, now))
		return -EKEYEXPIRED;
	if (padded < plain_len || cap < TRANSPORT_OVERHEAD || cap - TRANSPORT_OVERHEAD < padded)
		return -ENOBUFS;

	uint64_t counter = kp->send_counter++;
	uint8_t *p = buf + TRANSPORT_HEADER_LEN;
	memset(p + plain_len, 0, padded - plain_len);
	buf[0] = NOISE_MSG_TRANSPORT;
	buf[1] = buf[2] = buf[3] = 0;
	buf[4] = (uint8_t)kp->remote_index;
	buf[5] = (uint8_t)(kp->remote_index >> 8);
	buf[6] = (uint8_t)(kp->remote_index >> 16);
	buf[7] = (uint8_t)(kp->remote_index >> 24);
	for (int i = 0; i < 8; i++)
		buf[8 + i] = (uint8_t)(counter >> (8 * i));
	transport_nonce(nonce, buf + 8);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(p, p + padded, NULL, p, padded, NULL, 0,
							   NULL, nonce, kp->send_key);
	*out_len = TRANSPORT_OVERHEAD + padded;
	return 0;
}

int transport_decrypt(struct noise_keypair *kp, uint8_t *buf, size_t len, uint64_t now,
		      size_t *plain_len)
{
	uint8_t nonce[12];

	if (noise_msg_type(buf, len) != NOISE_MSG_TRANSPORT)
		return -EINVAL;
	if (!kp || !kp->valid)
		return -ENOKEY;
	if (noise_msg_receiver(buf, len) != kp->local_index)
		return -ESRCH;
	if (!noise_keypair_can_receive(kp, now))
		return -EKEYEXPIRED;
	uint64_t counter = transport_counter(buf);
	if (!replay_check(&kp->replay, counter, NOISE_REJECT_AFTER_MESSAGES))
		return -EALREADY;

	size_t clen = len - TRANSPORT_OVERHEAD;
	uint8_t *p = buf + TRANSPORT_HEADER_LEN;
	transport_nonce(nonce, buf + 8);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(p, NULL, p, clen, p + clen, NULL, 0,
							       nonce, kp->recv_key) != 0)
		return -EBADMSG;
	if (!replay_validate(&kp->replay, counter, NOISE_REJECT_AFTER_MESSAGES))
		return -EALREADY;
	*plain_len = clen;
	return 0;
}

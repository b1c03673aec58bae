/* timers: WireGuard's timer rules as a pure state machine over deadlines. */
#include "timers.h"

#include <string.h>

#include <sodium.h>

void timers_init(struct timers *t, uint16_t persistent_keepalive_s)
{
	memset(t, 0, sizeof(*t));
	t->persistent_keepalive_interval = persistent_keepalive_s;
}

void timers_set_jitter(struct timers *t, timers_jitter_fn fn, void *arg)
{
	t->jitter = fn;
	t->jitter_arg = arg;
}

bool timers_set_persistent_keepalive(struct timers *t, uint16_t secs, uint64_t now)
{
	uint16_t old = t->persistent_keepalive_interval;

	(void)now;
	t->persistent_keepalive_interval = secs;
	if (!secs)
		t->persistent_keepalive = 0;
	return old == 0 && secs != 0;
}

void timers_stop(struct timers *t)
{
	t->retransmit_handshake = t->send_keepalive = t->new_handshake = 0;
	t->zero_key_material = t->persistent_keepalive = 0;
	t->need_another_keepalive = false;
	t->retry_pending = false;
	t->handshake_attempts = 0;
}

static uint64_t timers_jitter(const struct timers *t)
{
	uint64_t j;

	if (t->jitter)
		j = t->jitter(t->jitter_arg);
	else
		j = randombytes_uniform((uint32_t)TIMERS_JITTER_MAX_NS + 1);
	return j > TIMERS_JITTER_MAX_NS ? TIMERS_JITTER_MAX_NS : j;
}

void timers_data_sent(struct timers *t, uint64_t now)
{
	if (!t->new_handshake)
		t->new_handshake = now + NOISE_KEEPALIVE_TIMEOUT_NS + NOISE_REKEY_TIMEOUT_NS + timers_jitter(t);
}

void timers_data_received(struct timers *t, uint64_t now)
{
	if (!t->send_keepalive)
		t->send_keepalive = now + NOISE_KEEPALIVE_TIMEOUT_NS;
	else
		t->need_another_keepalive = true;
}

void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now)
{
	(void)now;
	t->send_keepalive = 0;
}

void timers_any_authenticated_packet_received(struct timers *t, uint64_t now)
{
	(void)now;
	t->new_handshake = 0;
}

void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now)
{
	if (t->persistent_keepalive_interval)
		t->persistent_keepalive = now + (uint64_t)t->persistent_keepalive_interval * NOISE_NS;
}

void timers_handshake_initiated(struct timers *t, uint64_t now)
{
	t->initiation_sent = true;
	t->last_initiation_sent = now;
	t->retransmit_handshake = now + NOISE_REKEY_TIMEOUT_NS + timers_jitter(t);
}

void timers_handshake_complete(struct timers *t, uint64_t now)
{
	t->retransmit_handshake = 0;
	t->handshake_attempts = 0;
	t->retry_pending = false;
	t->sent_last_minute_handshake = false;
	t->handshake_completed = true;
	t->last_handshake_complete = now;
}

void timers_session_derived(struct timers *t, uint64_t now)
{
	t->zero_key_material = now + 3 * NOISE_REJECT_AFTER_TIME_NS;
}

bool timers_may_send_initiation(struct timers *t, uint64_t now, bool retry)
{
	if (!retry)
		t->handshake_attempts = 0;
	return !(t->initiation_sent && now >= t->last_initiation_sent &&
		 now - t->last_initiation_sent < NOISE_REKEY_TIMEOUT_NS);
}

bool timers_want_rekey_on_send(const struct timers *t, const struct noise_keypair *current, uint64_t now)
{
	(void)t;
	if (!current || !current->valid)
		return false;
	return current->send_counter > NOISE_REKEY_AFTER_MESSAGES ||
	       (current->is_initiator && now >= current->birth &&
		now - current->birth > NOISE_REKEY_AFTER_TIME_NS);
}

bool timers_want_rekey_on_receive(struct timers *t, const struct noise_keypair *current, uint64_t now)
{
	if (t->sent_last_minute_handshake || !current || !current->valid || !current->is_initiator)
		return false;
	if (now < current->birth || now - current->birth <=
	    NOISE_REJECT_AFTER_TIME_NS - NOISE_KEEPALIVE_TIMEOUT_NS - NOISE_REKEY_TIMEOUT_NS)
		return false;
	t->sent_last_minute_handshake = true;
	return true;
}

static bool timers_due(uint64_t *deadline, uint64_t now)
{
	if (!*deadline || *deadline > now)
		return false;
	*deadline = 0;
	return true;
}

unsigned timers_expire(struct timers *t, uint64_t now)
{
	unsigned act = 0;

	if (timers_due(&t->retransmit_handshake, now)) {
		if (t->handshake_attempts > TIMERS_MAX_HANDSHAKES) {
			/* REKEY_ATTEMPT_TIME is over: the peer is unreachable. */
			t->send_keepalive = 0;
			t->retry_pending = false;
			act |= TIMERS_GIVE_UP;
			if (!t->zero_key_material)
				t->zero_key_material = now + 3 * NOISE_REJECT_AFTER_TIME_NS;
		} else {
			t->handshake_attempts++;
			t->retry_pending = true;
			act |= TIMERS_SEND_INITIATION;
		}
	}
	if (timers_due(&t->send_keepalive, now)) {
		act |= TIMERS_SEND_KEEPALIVE;
		if (t->need_another_keepalive) {
			t->need_another_keepalive = false;
			t->send_keepalive = now + NOISE_KEEPALIVE_TIMEOUT_NS;
		}
	}
	if (timers_due(&t->new_handshake, now)) {
		/* Sent data, heard nothing back: a fresh handshake. */
		if (!(act & TIMERS_SEND_INITIATION))
			t->retry_pending = false;
		act |= TIMERS_SEND_INITIATION;
	}
	if (timers_due(&t->zero_key_material, now))
		act |= TIMERS_ZERO_KEYS;
	if (timers_due(&t->persistent_keepalive, now) && t->persistent_keepalive_interval)
		act |= TIMERS_SEND_KEEPALIVE;
	return act;
}

uint64_t timers_next_deadline(const struct timers *t)
{
	const uint64_t d[] = { t->retransmit_handshake, t->send_keepalive, t->new_handshake,
			       t->zero_key_material, t->persistent_keepalive };
	uint64_t best = TIMERS_NEVER;

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i] && d[i] < best)
			best = d[i];
	return best;
}

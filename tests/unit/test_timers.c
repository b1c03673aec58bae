/* Unit tests for timers: each WireGuard timer rule as a scripted scenario on
 * a fake clock (milliseconds), with the jitter fixed at 100 ms. */
#include <string.h>

#include "t.h"
#include "timers.h"

#define MS 1000000ULL
#define NEVER_MS UINT64_MAX
#define INIT TIMERS_SEND_INITIATION
#define KEEP TIMERS_SEND_KEEPALIVE
#define ZERO TIMERS_ZERO_KEYS
#define GIVEUP TIMERS_GIVE_UP

static uint64_t jitter_100ms(void *arg)
{
	(void)arg;
	return 100 * MS;
}

static uint64_t jitter_huge(void *arg)
{
	(void)arg;
	return 10000 * MS;
}

/* Events: I initiated, C complete, D session derived, s data sent, r data
 * received, S any sent, R any received, T traversal; checks: E expire gives
 * WANT actions (and, for INIT, RETRY says retry_pending), N next deadline is WANT ms. */
struct step {
	char ev;
	uint64_t at;		/* ms */
	uint64_t want;
	int retry;
};

static const struct {
	const char *name;
	uint16_t keepalive;
	struct step steps[12];
} scenarios[] = {
	{ "retransmit after REKEY_TIMEOUT + jitter", 0,
	  { { 'I', 1000, 0, 0 }, { 'N', 0, 6100, 0 }, { 'E', 6099, 0, 0 }, { 'E', 6100, INIT, 1 }, { 'N', 0, NEVER_MS, 0 } } },
	{ "handshake complete stops retransmission", 0,
	  { { 'I', 1000, 0, 0 }, { 'C', 2000, 0, 0 }, { 'E', 7000, 0, 0 }, { 'N', 0, NEVER_MS, 0 } } },
	{ "keepalive KEEPALIVE_TIMEOUT after data received", 0,
	  { { 'r', 1000, 0, 0 }, { 'N', 0, 11000, 0 }, { 'E', 10999, 0, 0 }, { 'E', 11000, KEEP, 0 }, { 'E', 30000, 0, 0 } } },
	{ "sending anything cancels the keepalive", 0,
	  { { 'r', 1000, 0, 0 }, { 'S', 5000, 0, 0 }, { 'E', 11000, 0, 0 }, { 'N', 0, NEVER_MS, 0 } } },
	{ "more data meanwhile: another keepalive 10 s later", 0,
	  { { 'r', 1000, 0, 0 }, { 'r', 3000, 0, 0 }, { 'E', 11000, KEEP, 0 }, { 'N', 0, 21000, 0 }, { 'E', 21000, KEEP, 0 },
	    { 'N', 0, NEVER_MS, 0 } } },
	{ "data sent, nothing back: new handshake at KEEPALIVE + REKEY_TIMEOUT + jitter", 0,
	  { { 's', 1000, 0, 0 }, { 's', 9000, 0, 0 }, { 'N', 0, 16100, 0 }, { 'E', 16099, 0, 0 }, { 'E', 16100, INIT, 0 } } },
	{ "data sent, reply received: no new handshake", 0,
	  { { 's', 1000, 0, 0 }, { 'R', 15000, 0, 0 }, { 'E', 16000, 0, 0 }, { 'N', 0, NEVER_MS, 0 } } },
	{ "keys zeroed 3 * REJECT_AFTER_TIME after the session", 0,
	  { { 'D', 1000, 0, 0 }, { 'N', 0, 541000, 0 }, { 'E', 540999, 0, 0 }, { 'E', 541000, ZERO, 0 } } },
	{ "a new session postpones zeroing", 0,
	  { { 'D', 1000, 0, 0 }, { 'D', 100000, 0, 0 }, { 'E', 541000, 0, 0 }, { 'E', 640000, ZERO, 0 } } },
	{ "persistent keepalive after every traversal", 25,
	  { { 'T', 1000, 0, 0 }, { 'N', 0, 26000, 0 }, { 'T', 20000, 0, 0 }, { 'E', 26000, 0, 0 }, { 'E', 45000, KEEP, 0 },
	    { 'N', 0, NEVER_MS, 0 } } },
	{ "no persistent keepalive when off", 0, { { 'T', 1000, 0, 0 }, { 'N', 0, NEVER_MS, 0 } } },
	{ "several rules due at once", 0,
	  { { 'I', 0, 0, 0 }, { 'r', 0, 0, 0 }, { 's', 0, 0, 0 }, { 'E', 20000, INIT | KEEP, 1 } } },
};

static void run_case(size_t c)
{
	struct timers t;
	int ok = 1;
	size_t bad = 0;

	timers_init(&t, scenarios[c].keepalive);
	timers_set_jitter(&t, jitter_100ms, NULL);
	for (size_t i = 0; i < 12 && scenarios[c].steps[i].ev; i++) {
		const struct step *s = &scenarios[c].steps[i];
		uint64_t now = s->at * MS;
		int step_ok = 1;
		switch (s->ev) {
		case 'I': timers_handshake_initiated(&t, now); break;
		case 'C': timers_handshake_complete(&t, now); break;
		case 'D': timers_session_derived(&t, now); break;
		case 's': timers_data_sent(&t, now); break;
		case 'r': timers_data_received(&t, now); break;
		case 'S': timers_any_authenticated_packet_sent(&t, now); break;
		case 'R': timers_any_authenticated_packet_received(&t, now); break;
		case 'T': timers_any_authenticated_packet_traversal(&t, now); break;
		case 'E': {
			unsigned act = timers_expire(&t, now);
			step_ok = act == s->want && (!(act & INIT) || t.retry_pending == s->retry);
			break;
		}
		case 'N': {
			uint64_t d = timers_next_deadline(&t);
			step_ok = s->want == NEVER_MS ? d == TIMERS_NEVER : d == s->want * MS;
			break;
		}
		}
		if (!step_ok && ok) {
			ok = 0;
			bad = i;
		}
	}
	T_CHECK(ok, "timers: %s", scenarios[c].name);
	if (!ok)
		printf("#   first failing step %zu\n", bad);
}

/* 1 initiation + 19 retries, then give up and zero the keys later. */
static void test_give_up(void)
{
	struct timers t;
	uint64_t now = 0;
	unsigned sent = 1, act = 0;

	timers_init(&t, 0);
	timers_set_jitter(&t, jitter_100ms, NULL);
	timers_data_received(&t, now);	/* a keepalive pending must be dropped on give-up */
	timers_handshake_initiated(&t, now);
	for (int i = 0; i < 40; i++) {
		now = timers_next_deadline(&t);
		act = timers_expire(&t, now);
		if (act & TIMERS_SEND_KEEPALIVE)
			continue;
		if (act & INIT) {
			T_CHECK(t.retry_pending && timers_may_send_initiation(&t, now, true),
				"timers: give-up: retry %u may go out (a retry, not rate limited)", sent);
			sent++;
			timers_handshake_initiated(&t, now);
			continue;
		}
		break;
	}
	T_CHECK(act == GIVEUP && sent == 1 + TIMERS_MAX_HANDSHAKES + 1,
		"timers: give-up after 1 + 19 initiations (attempts > REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18)");
	T_CHECK(now == 20 * (5000 + 100) * MS, "timers: give-up 20 * (REKEY_TIMEOUT + jitter) after the first initiation");
	T_CHECK(t.send_keepalive == 0 && timers_next_deadline(&t) == now + 3 * NOISE_REJECT_AFTER_TIME_NS,
		"timers: give-up cancels keepalives and schedules zeroing in 540 s");
	T_CHECK(timers_expire(&t, now + 3 * NOISE_REJECT_AFTER_TIME_NS) == ZERO, "timers: keys zeroed 540 s after giving up");

	/* A fresh need resets the attempt count. */
	t.handshake_attempts = 7;
	T_CHECK(timers_may_send_initiation(&t, now + 1000 * NOISE_NS, false) && t.handshake_attempts == 0,
		"timers: a non-retry initiation resets the attempt count");
}

static void test_rate_limit_and_jitter(void)
{
	struct timers t;

	timers_init(&t, 0);
	T_CHECK(timers_may_send_initiation(&t, 0, false), "timers: the first initiation may go out at time 0");
	timers_set_jitter(&t, jitter_huge, NULL);
	timers_handshake_initiated(&t, 1000 * MS);
	T_CHECK(t.retransmit_handshake == 1000 * MS + NOISE_REKEY_TIMEOUT_NS + TIMERS_JITTER_MAX_NS,
		"timers: injected jitter is capped at 333 ms");
	T_CHECK(!timers_may_send_initiation(&t, 5999 * MS, false), "timers: no second initiation within REKEY_TIMEOUT");
	T_CHECK(timers_may_send_initiation(&t, 6000 * MS, false), "timers: another initiation REKEY_TIMEOUT later");

	timers_set_jitter(&t, NULL, NULL);
	int inrange = 1;
	for (int i = 0; i < 200; i++) {
		timers_handshake_initiated(&t, 0);
		inrange &= t.retransmit_handshake >= NOISE_REKEY_TIMEOUT_NS &&
			   t.retransmit_handshake <= NOISE_REKEY_TIMEOUT_NS + TIMERS_JITTER_MAX_NS;
	}
	T_CHECK(inrange, "timers: random jitter stays within 0..333 ms (200 draws)");

	timers_init(&t, 0);
	T_CHECK(timers_set_persistent_keepalive(&t, 25, 0), "timers: turning persistent keepalive on asks for one now");
	T_CHECK(!timers_set_persistent_keepalive(&t, 30, 0), "timers: changing a non-zero interval does not");
	timers_any_authenticated_packet_traversal(&t, 0);
	T_CHECK(timers_next_deadline(&t) == 30 * NOISE_NS, "timers: persistent keepalive armed at the new interval");
	T_CHECK(!timers_set_persistent_keepalive(&t, 0, 0) && timers_next_deadline(&t) == TIMERS_NEVER,
		"timers: turning it off disarms it");

	timers_handshake_initiated(&t, 0);
	timers_data_received(&t, 0);
	timers_session_derived(&t, 0);
	timers_stop(&t);
	T_CHECK(timers_next_deadline(&t) == TIMERS_NEVER && timers_expire(&t, UINT64_MAX - 1) == 0,
		"timers: stop disarms everything");
}

static void test_rekey_rules(void)
{
	static const struct {
		const char *name;
		int initiator;
		uint64_t age_ms;
		uint64_t counter;
		int want_send, want_recv;
	} cases[] = {
		{ "fresh initiator keypair", 1, 0, 0, 0, 0 },
		{ "initiator keypair exactly REKEY_AFTER_TIME old", 1, 120000, 0, 0, 0 },
		{ "initiator keypair just past REKEY_AFTER_TIME", 1, 120001, 0, 1, 0 },
		{ "responder keypair past REKEY_AFTER_TIME", 0, 121000, 0, 0, 0 },
		{ "counter just past REKEY_AFTER_MESSAGES (responder too)", 0, 0, (1ULL << 60) + 1, 1, 0 },
		{ "counter at REKEY_AFTER_MESSAGES", 0, 0, 1ULL << 60, 0, 0 },
		{ "initiator keypair 165 s old (receive threshold)", 1, 165000, 0, 1, 0 },
		{ "initiator keypair past REJECT - KEEPALIVE - REKEY_TIMEOUT", 1, 165001, 0, 1, 1 },
		{ "responder keypair past that threshold", 0, 170000, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct timers t;
		struct noise_keypair kp = { .valid = true, .is_initiator = cases[i].initiator, .birth = 1000 * MS,
					    .send_counter = cases[i].counter };
		uint64_t now = kp.birth + cases[i].age_ms * MS;

		timers_init(&t, 0);
		T_CHECK(timers_want_rekey_on_send(&t, &kp, now) == cases[i].want_send &&
			timers_want_rekey_on_receive(&t, &kp, now) == cases[i].want_recv,
			"timers: %s: rekey on send %d, on receive %d", cases[i].name, cases[i].want_send, cases[i].want_recv);
		if (cases[i].want_recv) {
			T_CHECK(!timers_want_rekey_on_receive(&t, &kp, now + MS),
				"timers: %s: the last-minute handshake is asked for once", cases[i].name);
			timers_handshake_complete(&t, now + 2 * MS);
			T_CHECK(timers_want_rekey_on_receive(&t, &kp, now + 3 * MS),
				"timers: %s: and again after a completed handshake", cases[i].name);
		}
	}
	struct timers t;
	timers_init(&t, 0);
	T_CHECK(!timers_want_rekey_on_send(&t, NULL, 0) && !timers_want_rekey_on_receive(&t, NULL, 0),
		"timers: no keypair, no rekey decision");
}

int main(void)
{
	for (size_t c = 0; c < sizeof(scenarios) / sizeof(scenarios[0]); c++)
		run_case(c);
	test_give_up();
	test_rate_limit_and_jitter();
	test_rekey_rules();
	T_DONE();
}

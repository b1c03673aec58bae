/* Process tests for store, on SQLite and then on PostgreSQL (tests/pg.sh;
 * skipped with the reason when no server can be started).
 *
 * Crash consistency: a child commits transactions of several kinds (a
 * registration, a node removal, a policy version, a user) and reports each
 * through a pipe once store_* returned 0; it is killed with SIGKILL at a
 * random moment, fifty times over one database.  After each kill the
 * database opens, passes PRAGMA integrity_check, holds every reported
 * change, at most one committed change that the child did not live to
 * report, and no half of one (the key's uses, the nodes' id sequence, the
 * address high-water mark and the generation agree).
 *
 * On PostgreSQL the child is a client killed mid-transaction (the server
 * rolls back what it did not commit), and an identity sequence is not
 * transactional, so "nodes made" is the address high-water mark there.
 *
 * Single use under contention: two processes register with one single-use
 * key at the same moment, many rounds; exactly one wins each time. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_test.h"
#include "t.h"

#define CRASH_ROUNDS 50
#define RACE_ROUNDS 40

enum op { OP_REGISTER = 1, OP_REMOVE, OP_POLICY, OP_USER, OP_FAILED };

struct report {
	int32_t op;
	int32_t rc;
	int64_t id;
};

struct crash_keys {
	int64_t key;
	uint8_t secret[STORE_KEY_LEN];
};

static void report(int fd, enum op op, int rc, int64_t id)
{
	struct report r = { op, rc, id };

	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
}

/* The child: transactions until killed, each reported once committed. */
static void crash_child(const char *db, const struct crash_keys *k, int round, int fd)
{
	struct store *s = tstore_open(db);
	int64_t last_node = 0;

	if (!s) {
		report(fd, OP_FAILED, -EIO, 0);
		_exit(2);
	}
	for (int j = 0;; j++) {
		char name[32];
		int64_t id;
		int rc;

		/* The mix shifts with the round, so short rounds see every kind. */
		int step = round + j;

		snprintf(name, sizeof(name), "r%d-%d", round, j);
		if (step % 4 == 3 && last_node) {
			rc = store_node_remove(s, last_node);
			id = last_node;
			last_node = 0;
			report(fd, rc ? OP_FAILED : OP_REMOVE, rc, id);
		} else if (step % 5 == 4) {
			rc = store_policy_set(s, name, 0, -1, NOW + j, &id);
			report(fd, rc ? OP_FAILED : OP_POLICY, rc, id);
		} else if (step % 3 == 2) {
			rc = store_user_add(s, name, "u@example.com", STORE_ROLE_MEMBER, NOW + j, &id);
			report(fd, rc ? OP_FAILED : OP_USER, rc, id);
		} else {
			rc = tregister(s, k->key, k->secret, name, (unsigned)(round * 100000 + j), NOW + j, &id);
			last_node = id;
			report(fd, rc ? OP_FAILED : OP_REGISTER, rc, id);
		}
		if (rc)
			_exit(2);
	}
}

/* What the parent learnt from the children, over all rounds. */
struct ledger {
	int64_t *nodes, *removed, *policies, *users;
	size_t n_nodes, n_removed, n_policies, n_users, cap;
	int64_t reported;	/* transactions reported committed */
	bool failed;		/* a child's operation failed */
};

static void ledger_add(struct ledger *l, const struct report *r)
{
	int64_t **list = r->op == OP_REGISTER ? &l->nodes : r->op == OP_REMOVE ? &l->removed :
			 r->op == OP_POLICY ? &l->policies : &l->users;
	size_t *n = r->op == OP_REGISTER ? &l->n_nodes : r->op == OP_REMOVE ? &l->n_removed :
		    r->op == OP_POLICY ? &l->n_policies : &l->n_users;

	if (r->op == OP_FAILED) {
		fprintf(stderr, "child: operation failed: %d\n", r->rc);
		l->failed = true;
		return;
	}
	if (!*list)
		*list = calloc(l->cap, sizeof(int64_t));
	if (*list && *n < l->cap)
		(*list)[(*n)++] = r->id;
	l->reported++;
}

static bool in(const int64_t *list, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return true;
	return false;
}

struct crash_check {
	const struct ledger *l;
	size_t nodes_seen, users_seen;
	bool removed_present, last_present;
};

static int crash_node(const struct store_node *n, void *arg)
{
	struct crash_check *c = arg;

	c->removed_present |= in(c->l->removed, c->l->n_removed, n->id);
	c->nodes_seen += in(c->l->nodes, c->l->n_nodes, n->id);
	c->last_present |= c->l->n_nodes && n->id == c->l->nodes[c->l->n_nodes - 1];
	return 0;
}

static int crash_user(const struct store_user *u, void *arg)
{
	struct crash_check *c = arg;

	c->users_seen += in(c->l->users, c->l->n_users, u->id);
	return 0;
}

static int policy_present(const struct store_policy *p, void *arg)
{
	(void)p;
	++*(size_t *)arg;
	return 0;
}

/* One look at the database after a kill; false with a line on stderr at
 * the first thing wrong.  *GEN is the generation found. */
static bool crash_consistent(const char *db, struct ledger *l, int64_t key, int64_t base_gen, int64_t *gen)
{
	struct crash_check c = { .l = l };
	struct store *s;
	char sql[128];
	size_t policies = 0;
	int64_t uses, seq, next_v4, gens, unreported;
	size_t missing;
	bool ok = false;

	if (!tpg() && !tsql_integrity_ok(db)) {
		fprintf(stderr, "integrity_check failed\n");
		return false;
	}
	if (!(s = tstore_open(db)))
		return false;
	store_generation(s, gen);
	store_nodes_each(s, crash_node, &c);
	for (size_t i = 0; i < l->n_policies; i++)
		store_policy_get(s, l->policies[i], policy_present, &policies);
	store_users_each(s, crash_user, &c);
	snprintf(sql, sizeof(sql), "SELECT uses FROM authkeys WHERE id = %lld", (long long)key);
	uses = tsql_int(db, sql);
	seq = tsql_int(db, tpg() ? "SELECT next_v4 - 1 FROM meta" :
		       "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'nodes'), 0)");
	next_v4 = tsql_int(db, "SELECT next_v4 FROM meta");
	gens = tsql_int(db, "SELECT count(DISTINCT gen) FROM changes");
	/* A removal that committed unreported takes the last node reported. */
	unreported = *gen - base_gen - l->reported;
	missing = l->n_nodes - l->n_removed - c.nodes_seen;
	if (c.removed_present || (missing && (missing > 1 || unreported != 1 || c.last_present)))
		fprintf(stderr, "nodes: %zu of %zu reported present, %zu removed, a removed one present: %d\n",
			c.nodes_seen, l->n_nodes, l->n_removed, c.removed_present);
	else if (policies != l->n_policies)
		fprintf(stderr, "policies: %zu of %zu reported present\n", policies, l->n_policies);
	else if (c.users_seen != l->n_users)
		fprintf(stderr, "users: %zu of %zu reported present\n", c.users_seen, l->n_users);
	else if (uses != seq || next_v4 != seq + 1)
		fprintf(stderr, "half a registration: uses %lld, nodes made %lld, next address %lld\n", (long long)uses,
			(long long)seq, (long long)next_v4);
	else if (gens != *gen)
		fprintf(stderr, "generation %lld but %lld transactions recorded\n", (long long)*gen, (long long)gens);
	else if (unreported < 0 || unreported > 1)
		fprintf(stderr, "generation %lld: %lld reported after %lld\n", (long long)*gen, (long long)l->reported,
			(long long)base_gen);
	else
		ok = true;
	if (ok && missing)	/* learnt: the child removed it and died before saying so */
		ledger_add(l, &(struct report){ OP_REMOVE, 0, l->nodes[l->n_nodes - 1] });
	store_close(s);
	return ok;
}

static void crash_consistency(void)
{
	struct ledger l = { .cap = 100000 };
	struct crash_keys k;
	struct tdir t;
	struct store *s;
	int64_t uid, gen = 0, base_gen;
	int consistent = 0, killed_mid = 0;

	tdir_make(&t);
	s = tstore_open(t.db);
	store_user_add(s, "crash", "c@example.com", STORE_ROLE_OWNER, NOW, &uid);
	tauthkey(s, uid, true, NOW + 365 * DAY, &k.key, k.secret);
	store_generation(s, &gen);
	store_close(s);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		struct timespec pause = { 0, (5 + rand() % 75) * 1000000L };
		struct report r;
		int fds[2], status;
		pid_t pid;

		if (pipe(fds) < 0)
			break;
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			crash_child(t.db, &k, round, fds[1]);
		}
		close(fds[1]);
		base_gen = gen - l.reported;
		/* Even rounds die at any moment from the start (opening too); odd
		 * ones after a few commits and up to 3 ms into the next, so every
		 * round of a slow machine still gets work done. */
		for (int want = round % 2 ? 1 + rand() % 8 : 0; want > 0; want--)
			if (read(fds[0], &r, sizeof(r)) == sizeof(r))
				ledger_add(&l, &r);
		if (round % 2)
			pause = (struct timespec){ 0, rand() % 3000 * 1000L };
		nanosleep(&pause, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		killed_mid += WIFSIGNALED(status);
		/* Every report written before the kill is in the pipe. */
		while (read(fds[0], &r, sizeof(r)) == sizeof(r))
			ledger_add(&l, &r);
		close(fds[0]);
		if (l.failed || !crash_consistent(t.db, &l, k.key, base_gen, &gen)) {
			T_CHECK(0, "crash round %d: database consistent after SIGKILL", round);
			break;
		}
		/* A change committed but not reported moves the base on. */
		l.reported = gen - base_gen;
		consistent++;
	}
	T_CHECK(consistent == CRASH_ROUNDS, "%d of %d SIGKILLs: the database opens, passes integrity_check, holds every "
		"reported change and no half of one", consistent, CRASH_ROUNDS);
	T_CHECK(killed_mid == consistent, "every child was killed, none finished (%d)", killed_mid);
	T_CHECK(l.n_nodes > 0 && l.n_removed > 0 && l.n_policies > 0 && l.n_users > 0,
		"committed before the kills: %zu registrations, %zu removals, %zu policies, %zu users", l.n_nodes,
		l.n_removed, l.n_policies, l.n_users);
	free(l.nodes);
	free(l.removed);
	free(l.policies);
	free(l.users);
	tdir_remove(&t);
}

/* A racer: opens its own store, waits for the start, registers once. */
static void racer(const char *db, int64_t key, const uint8_t secret[STORE_KEY_LEN], const char *name, unsigned n,
		  int go, int out)
{
	struct store *s = tstore_open(db);
	int64_t id;
	char c;
	int rc = -EIO;

	if (read(go, &c, 1) == 0 && s)	/* EOF: the start */
		rc = tregister(s, key, secret, name, n, NOW, &id);
	if (write(out, &rc, sizeof(rc)) != sizeof(rc))
		_exit(3);
	store_close(s);
	_exit(0);
}

static void single_use_race(void)
{
	struct tdir t;
	struct store *s;
	int64_t uid;
	int clean = 0, rounds = 0;

	tdir_make(&t);
	s = tstore_open(t.db);
	store_user_add(s, "race", "r@example.com", STORE_ROLE_OWNER, NOW, &uid);
	store_close(s);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		uint8_t secret[STORE_KEY_LEN];
		int go[2], out[2], rc[2] = { 1, 1 }, wins = 0, used = 0;
		int64_t key;
		char sql[96];

		s = tstore_open(t.db);
		tauthkey(s, uid, false, NOW + DAY, &key, secret);
		store_close(s);	/* no connection crosses the fork */
		if (pipe(go) < 0 || pipe(out) < 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (fork() == 0) {
				char name[32];

				close(go[1]);
				close(out[0]);
				snprintf(name, sizeof(name), "race%d-%c", round, 'a' + i);
				racer(t.db, key, secret, name, (unsigned)(round * 2 + i + 1), go[0], out[1]);
			}
		}
		close(go[0]);
		close(out[1]);
		usleep(20000);	/* both open and waiting */
		close(go[1]);
		for (int i = 0; i < 2; i++)
			if (read(out[0], &rc[i], sizeof(rc[i])) != sizeof(rc[i]))
				rc[i] = 1;
		close(out[0]);
		while (wait(NULL) > 0)
			;
		for (int i = 0; i < 2; i++) {
			wins += rc[i] == 0;
			used += rc[i] == -EKEYREJECTED;
		}
		snprintf(sql, sizeof(sql), "SELECT uses FROM authkeys WHERE id = %lld", (long long)key);
		rounds++;
		if (wins == 1 && used == 1 && tsql_int(t.db, sql) == 1)
			clean++;
		else
			T_CHECK(0, "race round %d: results %d and %d, key uses %lld", round, rc[0], rc[1],
				(long long)tsql_int(t.db, sql));
	}
	T_CHECK(clean == RACE_ROUNDS, "%d of %d rounds of two processes registering with one single-use key: "
		"exactly one wins, the other gets -EKEYREJECTED, the key's uses is 1", clean, rounds);
	T_CHECK(tsql_int(t.db, "SELECT count(*) FROM nodes") == RACE_ROUNDS, "one node per round");
	tdir_remove(&t);
}

int main(void)
{
	char why[256];

	signal(SIGPIPE, SIG_IGN);
	printf("# SQLite\n");
	crash_consistency();
	single_use_race();
	if (!tpg_start(why, sizeof(why))) {
		T_SKIP("store processes on PostgreSQL: no server: %s", why);
		T_DONE();
	}
	printf("# PostgreSQL (%s)\n", tpg_dir);
	crash_consistency();
	single_use_race();
	tpg_stop();
	T_DONE();
}

/* agent_state's netmap journal: deltas appended and replayed over
 * netmap.json equal the netmaps they made; a torn or damaged last record
 * is ignored; the journal is restarted (compaction) when it would outgrow
 * netmap.json; a journal left over another netmap.json is ignored; and a
 * process killed (SIGKILL) at any moment while storing leaves a state that
 * loads as the last netmap stored or the one being stored. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent_state.h"
#include "t.h"

#define CHAIN 40

static char dir[64];

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* Netmap I of a chain: peers come and go, endpoints move, and every
 * tenth one carries a longer filter (records larger than usual). */
static struct ctl_netmap chain_map(unsigned i)
{
	struct ctl_netmap m = { .generation = i + 1 };
	m.self.id = 1;
	m.self.name = strdup("me");
	m.peers = calloc(16, sizeof *m.peers);
	for (unsigned id = 2; id < 18; id++) {
		if ((id * 7 + i) % 5 == 0)
			continue;
		struct ctl_peer *p = &m.peers[m.n_peers++];
		char name[16];
		snprintf(name, sizeof name, "p%u", id);
		p->id = id;
		p->name = strdup(name);
		memset(p->wg_key, (int)id, sizeof p->wg_key);
		p->endpoints.v = calloc(1, sizeof *p->endpoints.v);
		p->endpoints.n = 1;
		p->endpoints.v[0] = (struct ctl_endpoint){ .family = 4, .port = (uint16_t)(41000 + (id == i % 16 ? i : 0)),
							   .addr = { 192, 0, 2, (uint8_t)id } };
		p->addresses.v = calloc(1, sizeof *p->addresses.v);
		p->addresses.n = 1;
		p->addresses.v[0] = (struct ctl_prefix){ .family = 4, .bits = 32, .addr = { 100, 64, 0, (uint8_t)id } };
		p->allowed_ips.v = calloc(1, sizeof *p->allowed_ips.v);
		p->allowed_ips.n = 1;
		p->allowed_ips.v[0] = p->addresses.v[0];
	}
	/* Its peers may reach port 22: from one map to the next only the
	 * sources change, and the delta carries a filter patch. */
	char filter[4096] = "[{\"SrcIPs\":[";
	for (size_t k = 0; k < m.n_peers; k++)
		snprintf(filter + strlen(filter), sizeof filter - strlen(filter), "%s\"100.64.0.%u\"", k ? "," : "",
			 (unsigned)m.peers[k].id);
	strcat(filter, "],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":22,\"Last\":22}}]}");
	for (unsigned k = 0; k < (i % 10 == 9 ? 20u : 0u); k++)
		snprintf(filter + strlen(filter), sizeof filter - strlen(filter),
			 ",{\"SrcIPs\":[\"100.64.0.%u\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":%u,\"Last\":%u}}]}",
			 k + 2, 22 + i, 22 + i);
	strcat(filter, "]");
	m.filter = strdup(filter);
	return m;
}

static char *encode(const struct ctl_netmap *m)
{
	return ctl_netmap_encode(m);
}

static char *delta_text(const struct ctl_netmap *a, const struct ctl_netmap *b)
{
	struct ctl_delta d;
	if (ctl_netmap_delta(a, b, &d) < 0)
		abort();
	cJSON *j = ctl_delta_to_json(&d);
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	ctl_delta_free(&d);
	return text;
}

/* The stored state loads as netmap WANT (its canonical text). */
static bool loads_as(const char *want)
{
	struct ctl_netmap m;
	char err[256];
	if (agent_state_load_netmap(dir, &m, err, sizeof err) < 0)
		return false;
	char *got = encode(&m);
	bool same = got && !strcmp(got, want);
	free(got);
	ctl_netmap_free(&m);
	return same;
}

static off_t size_of(const char *name)
{
	char path[128];
	struct stat st;
	path_in(path, sizeof path, name);
	return stat(path, &st) < 0 ? -1 : st.st_size;
}

static void cut(const char *name, off_t by)
{
	char path[128];
	path_in(path, sizeof path, name);
	if (truncate(path, size_of(name) - by) < 0)
		abort();
}

static void append(const char *name, const char *text)
{
	char path[128];
	path_in(path, sizeof path, name);
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

struct chain {
	struct ctl_netmap m[CHAIN];
	char *text[CHAIN], *delta[CHAIN];	/* DELTA[i]: from netmap I-1 to I */
};

/* Store netmaps FROM+1..TO of C as deltas. */
static int store(struct chain *c, struct agent_journal *jn, int from, int to)
{
	int rc = 0;
	for (int i = from + 1; i <= to && rc == 0; i++)
		rc = agent_state_save_delta(dir, jn, c->delta[i], strlen(c->delta[i]), &c->m[i]);
	return rc;
}

static void test_replay(struct chain *c)
{
	struct agent_journal jn = { 0 };
	char *base;
	T_CHECK(agent_state_save_netmap(dir, &c->m[0], &jn) == 0 && store(c, &jn, 0, 5) == 0,
		"a netmap stored whole, then 5 deltas");
	base = encode(&c->m[0]);
	T_CHECK(size_of("netmap.json") == (off_t)strlen(base), "... netmap.json is still the first netmap (deltas appended)");
	free(base);
	T_CHECK(loads_as(c->text[5]), "... loading replays them: the fifth netmap");
	struct stat st;
	char path[128];
	path_in(path, sizeof path, "netmap.journal");
	T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "... the journal is 0600");

	cut("netmap.journal", 3);
	T_CHECK(loads_as(c->text[4]), "a torn last record is ignored: the fourth netmap");
	/* A whole record whose text was damaged (its checksum no longer fits). */
	T_CHECK(agent_state_save_netmap(dir, &c->m[0], &jn) == 0 && store(c, &jn, 0, 5) == 0, "stored again");
	char *rec = strdup(c->delta[5]);
	cut("netmap.journal", (off_t)strlen(rec) + 18);	/* checksum, space, newline */
	/* Still JSON, still a delta that applies: only the checksum tells. */
	char *g = strstr(rec, "\"generation\":");
	g[strlen("\"generation\":")] += 2;
	char line[4096];
	snprintf(line, sizeof line, "0123456789abcdef %s\n", rec);
	append("netmap.journal", line);
	free(rec);
	T_CHECK(loads_as(c->text[4]), "a damaged last record is ignored: the fourth netmap");
	append("netmap.journal", "garbage");
	T_CHECK(loads_as(c->text[4]), "... and a torn one after it too");

	/* After a restart the journal is not ours: the next delta stores all. */
	struct agent_journal fresh = { 0 };
	T_CHECK(store(c, &fresh, 4, 6) == 0 && loads_as(c->text[6]),
		"after a restart over a torn journal, the next deltas are stored and load (netmap 6)");
}

static void test_compaction(struct chain *c)
{
	struct agent_journal jn = { 0 };
	int compactions = 0;
	T_CHECK(agent_state_save_netmap(dir, &c->m[0], &jn) == 0, "compaction: a netmap stored whole");
	for (int i = 1; i < CHAIN; i++) {
		off_t before = size_of("netmap.journal");
		if (store(c, &jn, i - 1, i) < 0)
			break;
		compactions += size_of("netmap.journal") < before;
	}
	T_CHECK(compactions > 0 && size_of("netmap.journal") <= size_of("netmap.json"),
		"... %d deltas: netmap.json written again %d times, the journal never larger than it", CHAIN - 1,
		compactions);
	T_CHECK(loads_as(c->text[CHAIN - 1]), "... and it loads as the last netmap");
}

/* netmap.json rewritten by compaction, killed before the journal started
 * again: the old journal names the old netmap.json and is ignored, even
 * when its records would apply. */
static void test_stale(struct chain *c)
{
	struct agent_journal jn = { 0 };
	struct ctl_netmap other = chain_map(7);
	other.generation = c->m[0].generation;	/* the journal's records would apply */
	char *text = encode(&other), path[128];
	T_CHECK(agent_state_save_netmap(dir, &c->m[0], &jn) == 0 && store(c, &jn, 0, 2) == 0, "stale: two deltas stored");
	path_in(path, sizeof path, "netmap.json");
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	T_CHECK(loads_as(text), "... netmap.json replaced behind the journal: the journal is ignored");
	free(text);
	ctl_netmap_free(&other);
	T_CHECK(agent_state_forget_netmap(dir, &jn) == 0 && size_of("netmap.json") < 0 && size_of("netmap.journal") < 0,
		"forgetting the netmap removes netmap.json and the journal");
}

/* A child stores the chain over and over, saying after each store which
 * netmap it holds; killed at a random moment, what it left loads as that
 * netmap or the next. */
static void test_kill(struct chain *c)
{
	int good = 0, rounds = 20, seen[CHAIN] = { 0 }, places = 0;
	unsigned seed = 5;
	for (int r = 0; r < rounds; r++) {
		int fds[2];
		struct agent_journal jn = { 0 };
		if (pipe(fds) < 0 || agent_state_save_netmap(dir, &c->m[0], &jn) < 0)
			abort();
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			for (int i = 1;; i = i % (CHAIN - 1) + 1) {
				unsigned char k = (unsigned char)(i - 1);
				if (write(fds[1], &k, 1) != 1)
					_exit(1);
				agent_state_save_delta(dir, &jn, c->delta[i], strlen(c->delta[i]), &c->m[i]);
				if (i == CHAIN - 1)
					agent_state_save_netmap(dir, &c->m[0], &jn);
			}
		}
		close(fds[1]);
		usleep(1000 + rand_r(&seed) % 100000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		unsigned char k, last = 0;
		while (read(fds[0], &k, 1) == 1)
			last = k;
		close(fds[0]);
		/* It said LAST before storing netmap LAST+1 (after the chain's end,
		 * the first again). */
		int next = last + 1;
		bool ok = loads_as(c->text[last]) || loads_as(c->text[next]) || loads_as(c->text[0]);
		if (!ok) {
			struct ctl_netmap m;
			char err[256];
			int rc = agent_state_load_netmap(dir, &m, err, sizeof err);
			printf("# round %d: said %d, loads as generation %llu (%d %s)\n", r, last,
			       rc == 0 ? (unsigned long long)m.generation : 0ULL, rc, rc ? err : "");
			if (rc == 0)
				ctl_netmap_free(&m);
		}
		good += ok;
		places += !seen[last]++;
	}
	T_CHECK(good == rounds,
		"killed while storing (SIGKILL, %d times at random moments, at %d places in the chain): %d loaded as a netmap it stored",
		rounds, places, good);
}

int main(void)
{
	static struct chain c;
	int patches = 0;
	snprintf(dir, sizeof dir, "/tmp/kg-state-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	for (int i = 0; i < CHAIN; i++) {
		c.m[i] = chain_map((unsigned)i);
		c.text[i] = encode(&c.m[i]);
		c.delta[i] = i ? delta_text(&c.m[i - 1], &c.m[i]) : NULL;
		patches += i && strstr(c.delta[i], "\"filter_patch\"") != NULL;
	}
	T_CHECK(patches > CHAIN / 2, "most deltas of the chain carry a filter patch (%d of %d)", patches, CHAIN - 1);
	test_replay(&c);
	test_compaction(&c);
	test_stale(&c);
	test_kill(&c);
	for (int i = 0; i < CHAIN; i++) {
		ctl_netmap_free(&c.m[i]);
		free(c.text[i]);
		free(c.delta[i]);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}

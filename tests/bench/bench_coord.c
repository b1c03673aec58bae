/* bench_coord: N protocol clients in one process (real Noise sessions, real
 * frames, runtime/control as the nodes use it) against a real keygate-coord
 * on loopback; tests/bench/coord.bench prepares the coordinator.
 *
 *   bench_coord -s HOST:PORT -k SERVER_KEY -P COORD_PID -K KEYGATE -S SOCK
 *               -r RELAY_AUTHKEY -u USER_AUTHKEYS_FILE -p POLICY2 -m MARKER
 *               -n N [-j JOINS] [-L LOG -- COORD_ARGV...]
 *
 * Session 0 is the relay (tag:relay, advertising the routes the policy's
 * autoApprovers approve); sessions 1..N-1 register with the user keys of
 * the file, PER_USER sessions to a key.  Once every session holds a map
 * and the coordinator has been quiet a moment it measures, on one line:
 *   - policy: from starting `keygate policy set POLICY2` until the last
 *     session's filter holds MARKER (which only POLICY2 has), the set
 *     command's own time, the coordinator's CPU and the delta bytes;
 *   - join (JOINS times): from a new node's register message until the
 *     relay's map holds one more peer, the relay's delta bytes and the
 *     coordinator's CPU;
 *   - full-map bytes (a node's map as a reconnect gets it, and the relay's);
 *   - the coordinator's VmRSS before the sessions and with all of them;
 *   - with COORD_ARGV (the command that started the coordinator), the
 *     reconnect storm: the coordinator killed (SIGKILL) and started again
 *     (its standard error to LOG) with every session connected; each
 *     session reconnects as a node does (jittered backoff doubling from
 *     0.5 s to 8 s) until it holds a full map again.  Measured: from the
 *     kill until the last session holds its map, each session's own wait
 *     from losing its connection to its new map (mean and max: a starved
 *     node shows in the max), the new coordinator's CPU and VmRSS.
 * Figures only: nothing is asserted. */
#include "ctl_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PER_USER 50		/* sessions to a user key (a user's devices) */
#define MAX_INFLIGHT 128	/* sessions connecting at once (listen backlog) */
#define QUIET_NS (300 * 1000000ULL)
#define STEP_TIMEOUT_NS (300 * CTL_NS)
#define BACKOFF_MIN_NS (CTL_NS / 2)	/* keygated's reconnect backoff */
#define BACKOFF_MAX_NS (8 * CTL_NS)

extern char **environ;

struct sess {
	int i;
	struct ctl_identity id;
	struct ctl_conn *conn;
	const char *authkey;
	bool has_map, want_out;
	struct ctl_netmap map;
	bool marked;		/* its filter holds the marker */
	/* the storm */
	bool down, remapped;
	unsigned failures;
	uint64_t lost_at, retry_at;
};

static struct {
	const char *keygate, *sock, *relay_key, *policy2, *marker;
	char **user_keys;
	size_t n_user_keys;
	struct addrinfo *ai;
	uint8_t server_key[32];
	pid_t coord;
	int n, joins, epfd;
	char **coord_argv;	/* the storm's restart: NULL, none */
	const char *coord_log;
} opt = { .joins = 5 };

static struct {
	struct sess *v;
	int n;			/* sessions started */
	int mapped, marked;
	uint64_t last_rx;	/* monotonic ns of the last message */
	uint64_t delta_bytes, deltas;
	uint64_t relay_delta_bytes;
	bool storm;		/* sessions that end reconnect */
	int remapped;
	uint64_t wait_max, wait_sum, last_remap;
} run;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CTL_NS + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_coord: %s\n", what);
	if (run.storm)	/* the coordinator we started, if it is ours by now */
		kill(opt.coord, SIGTERM);
	exit(1);
}

/* ---- the coordinator, from /proc ---- */

static long coord_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)opt.coord);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* utime + stime in ms. */
static double coord_cpu_ms(void)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)opt.coord);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	/* after the name: state, then fields 4..13, then utime (14), stime (15) */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* ---- sessions ---- */

static int on_established(void *ctx, struct ctl_conn *c)
{
	struct sess *s = ctx;
	static const char *const relay_routes[] = { "10.0.0.0/16", "10.1.0.0/16" };
	struct ctl_prefix routes[2];
	struct ctl_msg m = { .type = CTL_MSG_REGISTER };
	char host[64];
	(void)c;
	snprintf(host, sizeof host, s->i ? "node%d" : "relay", s->i);
	m.u.reg.auth_key = (char *)s->authkey;
	crypto_generichash(m.u.reg.wg_key, 32, s->id.public_key, 32, NULL, 0);
	m.u.reg.hostname = host;
	if (s->i == 0) {
		for (int r = 0; r < 2; r++)
			if (ctl_prefix_parse(&routes[r], relay_routes[r]) < 0)
				return -EINVAL;
		m.u.reg.routes = (struct ctl_prefixes){ routes, 2 };
	}
	struct ctl_endpoint ep = { .family = 4, .port = 41641,
				   .addr = { 192, 0, 2, (uint8_t)(s->i % 250 + 1) } };
	m.u.reg.endpoints = (struct ctl_endpoints){ &ep, 1 };
	return ctl_client_send(s->conn, &m);
}

static void note_marker(struct sess *s)
{
	if (!s->marked && s->map.filter && strstr(s->map.filter, opt.marker)) {
		s->marked = true;
		run.marked++;
	}
}

/* A full map after the storm took S's connection. */
static void note_remap(struct sess *s)
{
	if (!run.storm || !s->lost_at || s->remapped)
		return;
	uint64_t now = now_ns(), wait = now - s->lost_at;
	s->remapped = true;
	s->failures = 0;
	run.remapped++;
	run.wait_sum += wait;
	if (wait > run.wait_max)
		run.wait_max = wait;
	run.last_remap = now;
}

static int on_map(struct sess *s, struct ctl_netmap *m)
{
	note_remap(s);
	if (s->has_map)
		ctl_netmap_free(&s->map);
	else
		run.mapped++;
	s->map = *m;
	memset(m, 0, sizeof *m);
	s->has_map = true;
	note_marker(s);
	return ctl_client_ack(s->conn, s->map.generation, NULL);
}

static int on_delta(struct sess *s, const struct ctl_delta *d, size_t len)
{
	int rc = s->has_map ? ctl_client_apply(&s->map, d) : -EPROTO;
	if (rc < 0)
		return rc;
	run.delta_bytes += len;
	run.deltas++;
	if (s->i == 0)
		run.relay_delta_bytes += len;
	note_marker(s);
	return ctl_client_ack(s->conn, d->generation, NULL);
}

static int on_message(void *ctx, struct ctl_conn *c, const char *text, size_t len)
{
	struct sess *s = ctx;
	struct ctl_msg m;
	char err[256];
	int rc = ctl_msg_decode(text, len, &m, err, sizeof err);
	(void)c;
	if (rc < 0) {
		fprintf(stderr, "bench_coord: session %d: bad message: %s\n", s->i, err);
		return rc;
	}
	run.last_rx = now_ns();
	switch (m.type) {
	case CTL_MSG_REGISTER_RESULT:
		if (!m.u.result.ok) {
			fprintf(stderr, "bench_coord: session %d refused: %s\n", s->i, m.u.result.error);
			rc = -EACCES;
		}
		break;
	case CTL_MSG_MAP:
		rc = on_map(s, &m.u.map);
		break;
	case CTL_MSG_DELTA:
		rc = on_delta(s, &m.u.delta, len);
		break;
	case CTL_MSG_CLOSE:
		fprintf(stderr, "bench_coord: session %d closed: %s\n", s->i, m.u.reason ? m.u.reason : "");
		rc = -ECONNRESET;
		break;
	default:
		break;
	}
	ctl_msg_free(&m);
	return rc;
}

static int rearm(struct sess *s, int op)
{
	bool want = ctl_conn_wants_write(s->conn);
	if (op == EPOLL_CTL_MOD && want == s->want_out)
		return 0;
	s->want_out = want;
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s };
	return epoll_ctl(opt.epfd, op, ctl_conn_fd(s->conn), &ev) < 0 ? -errno : 0;
}

/* Connect session S with its identity. */
static void sess_connect(struct sess *s)
{
	int fd = socket(opt.ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, opt.ai->ai_addr, opt.ai->ai_addrlen) < 0 && errno != EINPROGRESS))
		die("cannot connect (is RLIMIT_NOFILE high enough?)");
	struct ctl_conn_config cfg = {
		.role = CTL_INITIATOR, .local = &s->id, .server_key = opt.server_key,
		.on_established = on_established, .on_message = on_message, .ctx = s,
	};
	s->want_out = false;
	if (!(s->conn = ctl_conn_new(fd, &cfg, now_ns())) || rearm(s, EPOLL_CTL_ADD) < 0)
		die("cannot start a session");
}

/* Start session I (a new identity) with AUTHKEY. */
static void sess_start(int i, const char *authkey)
{
	struct sess *s = &run.v[i];
	s->i = i;
	s->authkey = authkey;
	ctl_identity_generate(&s->id);
	sess_connect(s);
	run.n = i + 1;
}

/* In the storm, an ended session waits as keygated does, then reconnects:
 * doubling from BACKOFF_MIN_NS to BACKOFF_MAX_NS, times 0.5..1.5. */
static void sess_lost(struct sess *s)
{
	uint64_t now = now_ns(), base = BACKOFF_MIN_NS << (s->failures < 5 ? s->failures : 5);
	if (!run.storm)
		die("a session ended");
	if (base > BACKOFF_MAX_NS)
		base = BACKOFF_MAX_NS;
	ctl_conn_free(s->conn);	/* closes the descriptor, which leaves the epoll set */
	s->conn = NULL;
	s->down = true;
	if (!s->lost_at)
		s->lost_at = now;
	s->failures++;
	s->retry_at = now + base / 2 + (uint64_t)randombytes_uniform(1000) * base / 1000;
}

/* Sessions whose backoff is over connect again. */
static void sess_retry_due(void)
{
	uint64_t now = now_ns();
	for (int i = 0; run.storm && i < run.n; i++)
		if (run.v[i].down && run.v[i].retry_at <= now) {
			run.v[i].down = false;
			sess_connect(&run.v[i]);
		}
}

static void sess_event(struct sess *s, uint32_t events)
{
	uint64_t now = now_ns();
	int rc = 0;
	if (s->down)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rc = ctl_conn_on_readable(s->conn, now);
	if (rc == 0 && (events & EPOLLOUT))
		rc = ctl_conn_on_writable(s->conn, now);
	if (rc == 0 && ctl_conn_finished(s->conn))
		rc = -ECONNRESET;
	if (rc == 0)
		rc = rearm(s, EPOLL_CTL_MOD);
	if (rc < 0 && !run.storm)
		fprintf(stderr, "bench_coord: session %d ended: %s\n", s->i, strerror(-rc));
	if (rc < 0)
		sess_lost(s);
}

/* Keepalives: every session's timers, once a second. */
static void tick_all(void)
{
	static uint64_t next;
	uint64_t now = now_ns();
	if (now < next)
		return;
	next = now + CTL_NS;
	for (int i = 0; i < run.n; i++)
		if (!run.v[i].down && (ctl_conn_tick(run.v[i].conn, now) < 0 || rearm(&run.v[i], EPOLL_CTL_MOD) < 0))
			sess_lost(&run.v[i]);
}

static void pump(int timeout_ms)
{
	struct epoll_event ev[256];
	int n = epoll_wait(opt.epfd, ev, 256, timeout_ms);
	for (int i = 0; i < n; i++)
		sess_event(ev[i].data.ptr, ev[i].events);
	tick_all();
	sess_retry_due();
}

typedef bool done_fn(void);

/* Run the loop until DONE (or die after STEP_TIMEOUT_NS saying WHAT). */
static void pump_until(done_fn *done, const char *what)
{
	uint64_t end = now_ns() + STEP_TIMEOUT_NS;
	while (!done()) {
		if (now_ns() > end)
			die(what);
		pump(5);
	}
}

/* ---- the steps ---- */

static bool relay_mapped(void)
{
	return run.v[0].has_map;
}

static bool quiet(void)
{
	return now_ns() - run.last_rx > QUIET_NS;
}

static bool all_mapped_quiet(void)
{
	return run.mapped == run.n && quiet();
}

/* Sessions 1..N-1, at most MAX_INFLIGHT without a map at once. */
static void connect_all(void)
{
	uint64_t end = now_ns() + STEP_TIMEOUT_NS;
	while (run.n < opt.n) {
		while (run.n < opt.n && run.n - run.mapped < MAX_INFLIGHT) {
			size_t k = (size_t)(run.n - 1) / PER_USER;
			if (k >= opt.n_user_keys)
				die("not enough user auth keys");
			sess_start(run.n, opt.user_keys[k]);
		}
		if (now_ns() > end)
			die("sessions did not all connect in time");
		pump(5);
	}
	pump_until(all_mapped_quiet, "not every session got its map");
}

static size_t map_bytes(const struct ctl_netmap *map)
{
	struct ctl_msg m = { .type = CTL_MSG_MAP, .u.map = *map };
	size_t len = 0;
	free(ctl_msg_encode(&m, &len));
	return len;
}

/* ARGV[0] run with ARGV, its output to /dev/null and, with ERR_LOG, its
 * errors appended there (else ours); dies saying WHY when it cannot start. */
static pid_t spawn(char *const argv[], const char *err_log, const char *why)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (err_log)
		posix_spawn_file_actions_addopen(&fa, 2, err_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		die(why);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static pid_t policy_set_start(void)
{
	char *argv[] = { (char *)opt.keygate, "--coord-socket", (char *)opt.sock, "policy", "set",
			 (char *)opt.policy2, NULL };
	return spawn(argv, NULL, "cannot run keygate policy set");
}

static bool all_marked(void)
{
	return run.marked == run.n;
}

struct policy_result {
	double ms, set_ms, cpu_ms;
	uint64_t delta_bytes, deltas;
};

static void measure_policy(struct policy_result *r)
{
	run.delta_bytes = run.deltas = 0;
	double cpu0 = coord_cpu_ms();
	uint64_t t0 = now_ns(), t_set = 0, t_all = 0;
	pid_t pid = policy_set_start();
	int status;
	uint64_t end = t0 + STEP_TIMEOUT_NS;
	/* The nodes may hold the policy before the command has printed its
	 * diff: each time is taken on its own. */
	while (!t_all || !t_set) {
		if (now_ns() > end)
			die("the policy change did not reach every session");
		pump(1);
		if (!t_all && all_marked())
			t_all = now_ns();
		if (!t_set && waitpid(pid, &status, WNOHANG) == pid) {
			t_set = now_ns();
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				die("keygate policy set failed");
		}
	}
	r->ms = (double)(t_all - t0) / 1e6;
	r->set_ms = (double)(t_set - t0) / 1e6;
	pump_until(quiet, "the coordinator did not quieten");
	r->cpu_ms = coord_cpu_ms() - cpu0;
	r->delta_bytes = run.delta_bytes;
	r->deltas = run.deltas;
}

static size_t join_relay_peers;

static bool relay_sees_join(void)
{
	return run.v[0].map.n_peers > join_relay_peers;
}

struct join_result {
	double ms_max, ms_sum, cpu_ms;
	uint64_t relay_bytes;
};

static void measure_joins(struct join_result *r)
{
	memset(r, 0, sizeof *r);
	for (int j = 0; j < opt.joins; j++) {
		int i = opt.n + j;
		join_relay_peers = run.v[0].map.n_peers;
		run.relay_delta_bytes = 0;
		double cpu0 = coord_cpu_ms();
		sess_start(i, opt.user_keys[0]);
		/* the clock starts when the register message is queued */
		while (!ctl_conn_established(run.v[i].conn))
			pump(1);
		uint64_t t0 = now_ns();
		pump_until(relay_sees_join, "the relay never saw the new node");
		double ms = (double)(now_ns() - t0) / 1e6;
		pump_until(quiet, "the coordinator did not quieten");
		r->cpu_ms += coord_cpu_ms() - cpu0;
		r->ms_sum += ms;
		if (ms > r->ms_max)
			r->ms_max = ms;
		r->relay_bytes += run.relay_delta_bytes;
	}
}

/* ---- the reconnect storm ---- */

/* Has PID ended (gone, or a zombie its parent has not reaped)? */
static bool ended(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

static pid_t coord_restart(void)
{
	return spawn(opt.coord_argv, opt.coord_log, "cannot start the coordinator again");
}

static bool all_remapped(void)
{
	return run.remapped == run.n;
}

struct storm_result {
	double s, wait_mean_ms, wait_max_ms, cpu_ms;
	long rss_kib;
};

/* Kill the coordinator with every session connected, start it again, and
 * wait until every session holds a full map. */
static void measure_storm(struct storm_result *r)
{
	uint64_t end = now_ns() + 60 * CTL_NS;
	run.storm = true;
	uint64_t t0 = now_ns();
	kill(opt.coord, SIGKILL);
	while (!ended(opt.coord)) {	/* its listening socket must be gone */
		if (now_ns() > end)
			die("the coordinator did not die");
		pump(1);
	}
	opt.coord = coord_restart();
	pump_until(all_remapped, "the reconnect storm did not settle");
	r->s = (double)(run.last_remap - t0) / 1e9;
	r->wait_mean_ms = (double)run.wait_sum / run.remapped / 1e6;
	r->wait_max_ms = (double)run.wait_max / 1e6;
	/* A moment for the last acks; thousands of sessions' keepalives may
	 * leave the coordinator never quiet for QUIET_NS, so this is bounded. */
	for (uint64_t settle = now_ns() + 5 * CTL_NS; !quiet() && now_ns() < settle;)
		pump(5);
	r->cpu_ms = coord_cpu_ms();
	r->rss_kib = coord_rss_kib();
}

static void coord_stop(void)
{
	int status;
	kill(opt.coord, SIGTERM);
	waitpid(opt.coord, &status, 0);
}

/* ---- options ---- */

static void read_user_keys(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	if (!f)
		die("cannot read the user keys");
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len)
			continue;
		opt.user_keys = realloc(opt.user_keys, (opt.n_user_keys + 1) * sizeof *opt.user_keys);
		if (!opt.user_keys || !(opt.user_keys[opt.n_user_keys++] = strdup(line)))
			die("out of memory");
	}
	free(line);
	fclose(f);
}

static int parse_args(int argc, char **argv)
{
	const char *server = NULL, *key = NULL;
	int c;
	while ((c = getopt(argc, argv, "s:k:P:K:S:r:u:p:m:n:j:L:")) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'k': key = optarg; break;
		case 'P': opt.coord = (pid_t)atoi(optarg); break;
		case 'K': opt.keygate = optarg; break;
		case 'S': opt.sock = optarg; break;
		case 'r': opt.relay_key = optarg; break;
		case 'u': read_user_keys(optarg); break;
		case 'p': opt.policy2 = optarg; break;
		case 'm': opt.marker = optarg; break;
		case 'n': opt.n = atoi(optarg); break;
		case 'j': opt.joins = atoi(optarg); break;
		case 'L': opt.coord_log = optarg; break;
		default: return -1;
		}
	}
	if (!opt.coord || !opt.keygate || !opt.sock || !opt.relay_key || !opt.n_user_keys || !opt.policy2 ||
	    !opt.marker || opt.n < 2 || opt.joins < 1)
		return -1;
	if (optind < argc) {
		opt.coord_argv = argv + optind;
		if (!opt.coord_log)
			return -1;
	}
	return ctl_client_server(server, key, opt.server_key, &opt.ai);
}

/* Sessions need a descriptor each: the soft limit up to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.n + (rlim_t)opt.joins + 64)
		die("RLIMIT_NOFILE is below the number of sessions");
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0 || parse_args(argc, argv) < 0) {
		fprintf(stderr, "usage: bench_coord -s HOST:PORT -k KEY -P COORD_PID -K KEYGATE -S SOCK "
				"-r RELAY_AUTHKEY -u USER_KEYS -p POLICY2 -m MARKER -n N [-j JOINS] "
				"[-L LOG -- COORD_ARGV...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if ((opt.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    !(run.v = calloc((size_t)(opt.n + opt.joins), sizeof *run.v)))
		die("out of memory");
	long rss0 = coord_rss_kib();
	uint64_t t0 = now_ns();
	sess_start(0, opt.relay_key);
	pump_until(relay_mapped, "the relay got no map");
	connect_all();
	double connect_s = (double)(now_ns() - t0) / 1e9;
	long rss1 = coord_rss_kib();
	size_t node_bytes = 0;
	for (int i = 1; i < run.n; i++)
		node_bytes += map_bytes(&run.v[i].map);
	size_t relay_bytes = map_bytes(&run.v[0].map), relay_peers = run.v[0].map.n_peers;

	struct policy_result pol;
	struct join_result join;
	struct storm_result storm = { 0 };
	measure_policy(&pol);
	measure_joins(&join);
	if (opt.coord_argv) {
		measure_storm(&storm);
		coord_stop();
	}

	printf("%6d %9.0f %8.0f %8.1f %9.1f %9.1f %8.1f %7zu %9zu %6zu %8.0f %8.0f %8.0f %7.1f %6.1f", opt.n,
	       pol.ms, pol.set_ms, pol.cpu_ms, join.ms_sum / opt.joins, join.ms_max, join.cpu_ms / opt.joins,
	       node_bytes / (size_t)(opt.n - 1), relay_bytes, relay_peers,
	       pol.deltas ? (double)pol.delta_bytes / (double)pol.deltas : 0.0,
	       (double)join.relay_bytes / opt.joins, (double)(rss1 - rss0) * 1024.0 / (opt.n - 1),
	       (double)rss1 / 1024.0, connect_s);
	if (opt.coord_argv)
		printf(" %7.1f %8.0f %8.0f %8.0f %7.1f", storm.s, storm.wait_mean_ms, storm.wait_max_ms,
		       storm.cpu_ms, (double)storm.rss_kib / 1024.0);
	printf("\n");
	for (int i = 0; i < run.n; i++) {
		ctl_conn_free(run.v[i].conn);
		if (run.v[i].has_map)
			ctl_netmap_free(&run.v[i].map);
		ctl_identity_wipe(&run.v[i].id);
	}
	free(run.v);
	close(opt.epfd);
	freeaddrinfo(opt.ai);
	return 0;
}

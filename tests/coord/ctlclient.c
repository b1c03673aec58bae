/* ctlclient: a test client of the control protocol holding N node sessions
 * against a real keygate-coord (the tests in tests/coord).
 *
 *   ctlclient -s HOST:PORT[,HOST:PORT...] -k SERVER_KEY_B64 -d DIR [-n N] [-a AUTHKEY]
 *             [-r PREFIX,...] [-H HOSTNAME] [-o] [-R] [-S | -W BYTES] [-t SECONDS]
 *
 * Session I keeps its machine key in DIR/cI.key (made on first use), so a
 * second run reconnects as the same nodes.  It registers (with -a, or as a
 * known machine key), applies every map and delta, acknowledges each, and
 * after each writes DIR/cI.map: its netmap's canonical JSON with the
 * generation set to 0 (so a map built from deltas compares equal to a
 * fresh full map), and appends events to DIR/cI.log ("connecting to K"
 * (the K-th of -s's coordinators, from 0), "registered NAME", "refused:
 * REASON", "map G", "delta G", "ended: WHY").  Given several coordinators
 * (which share one key pair), session I starts with the (I mod count)-th
 * and moves to the next each time its session ends.
 *   -o  once: exit when every session has its first map (0) or was
 *       refused (1, the reasons on stdout)
 *   -R  reconnect a lost session after 200 ms
 *   -S  stall: once a session has its first map, never read again (a node
 *       that does not read, for the coordinator's write queue)
 *   -W  slow: once a session has its first map, read at most BYTES a
 *       second (a node that reads, too slowly for what it is sent)
 *   -t  give up after SECONDS (exit 3); default 30
 * Without -o it runs until SIGTERM or the timeout. */
#include "ctl_authkey.h"
#include "ctl_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 1024
#define MAX_SERVERS 8
#define RECONNECT_NS (200 * 1000000ULL)

enum sess_state { S_IDLE, S_CONNECTED, S_MAPPED, S_REFUSED };

struct sess {
	int i;
	struct ctl_identity id;
	struct ctl_conn *conn;
	enum sess_state state;
	bool has_map;
	struct ctl_netmap map;
	uint64_t reconnect_at;
	uint64_t slow_read_at;	/* -W: the next read */
	int server;		/* the coordinator it uses: opt.ai[server] */
};

static struct {
	const char *dir, *authkey, *hostname;
	struct ctl_prefixes routes;
	uint8_t server_key[32];
	struct addrinfo *ai[MAX_SERVERS];
	int servers;
	bool once, reconnect, stall;
	size_t slow;		/* -W: bytes a second, 0: read freely */
	int n;
} opt = { .hostname = "node", .n = 1 };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void event(const struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(const struct sess *s, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	snprintf(path, sizeof path, "%s/c%d.log", opt.dir, s->i);
	FILE *f = fopen(path, "a");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

/* DIR/cI.key: 32 raw bytes, made when missing. */
static int load_identity(struct sess *s)
{
	char path[4096];
	uint8_t priv[32];
	snprintf(path, sizeof path, "%s/c%d.key", opt.dir, s->i);
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, priv, sizeof priv);
		close(fd);
		if (n != sizeof priv)
			return -EINVAL;
		return ctl_identity_init(&s->id, priv);
	}
	ctl_identity_generate(&s->id);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, s->id.private_key, 32) != 32)
		return -EIO;
	close(fd);
	return 0;
}

static void write_map(const struct sess *s)
{
	char path[4096], tmp[4200];
	struct ctl_netmap m = s->map;
	m.generation = 0;
	char *text = ctl_netmap_encode(&m);
	snprintf(path, sizeof path, "%s/c%d.map", opt.dir, s->i);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = text ? fopen(tmp, "w") : NULL;
	if (f) {
		fprintf(f, "%s\n", text);
		fclose(f);
		rename(tmp, path);
	}
	free(text);
}

static int on_established(void *ctx, struct ctl_conn *c)
{
	struct sess *s = ctx;
	struct ctl_msg m = { .type = CTL_MSG_REGISTER };
	char host[300];
	(void)c;
	snprintf(host, sizeof host, "%s%d", opt.hostname, s->i);
	m.u.reg.auth_key = (char *)opt.authkey;
	crypto_generichash(m.u.reg.wg_key, 32, s->id.public_key, 32, NULL, 0);
	m.u.reg.hostname = host;
	m.u.reg.routes = opt.routes;
	struct ctl_endpoint ep = { .family = 4, .port = 41641, .addr = { 192, 0, 2, (uint8_t)(s->i % 250 + 1) } };
	m.u.reg.endpoints = (struct ctl_endpoints){ &ep, 1 };
	return ctl_client_send(s->conn, &m);
}

static int on_map(struct sess *s, struct ctl_netmap *m)
{
	if (s->has_map)
		ctl_netmap_free(&s->map);
	s->map = *m;
	memset(m, 0, sizeof *m);
	s->has_map = true;
	s->state = S_MAPPED;
	event(s, "map %llu", (unsigned long long)s->map.generation);
	write_map(s);
	return ctl_client_ack(s->conn, s->map.generation, NULL);
}

static int on_delta(struct sess *s, const struct ctl_delta *d)
{
	if (!s->has_map)
		return ctl_client_ack(s->conn, d->generation, "delta without a map");
	int rc = ctl_client_apply(&s->map, d);
	if (rc < 0) {
		event(s, "delta %llu not applied: %s", (unsigned long long)d->generation, strerror(-rc));
		return ctl_client_ack(s->conn, d->generation, "delta does not apply");
	}
	event(s, "delta %llu", (unsigned long long)d->generation);
	write_map(s);
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
		event(s, "bad message: %s", err);
		return rc;
	}
	switch (m.type) {
	case CTL_MSG_REGISTER_RESULT:
		if (m.u.result.ok) {
			event(s, "registered %s", m.u.result.name);
		} else {
			event(s, "refused: %s", m.u.result.error);
			printf("c%d refused: %s\n", s->i, m.u.result.error);
			s->state = S_REFUSED;
		}
		break;
	case CTL_MSG_MAP:
		rc = on_map(s, &m.u.map);
		break;
	case CTL_MSG_DELTA:
		rc = on_delta(s, &m.u.delta);
		break;
	case CTL_MSG_CLOSE:
		event(s, "close: %s", m.u.reason ? m.u.reason : "");
		break;
	default:
		break;
	}
	ctl_msg_free(&m);
	return rc;
}

static int connect_sess(struct sess *s)
{
	const struct addrinfo *ai = opt.ai[s->server];
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	event(s, "connecting to %d", s->server);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	struct ctl_conn_config cfg = {
		.role = CTL_INITIATOR, .local = &s->id, .server_key = opt.server_key,
		.on_established = on_established, .on_message = on_message, .ctx = s,
	};
	s->conn = ctl_conn_new(fd, &cfg, now_ns());
	if (!s->conn) {
		close(fd);
		return -ENOMEM;
	}
	s->state = S_CONNECTED;
	return 0;
}

static void end_sess(struct sess *s, int rc)
{
	event(s, "ended: %s", rc ? strerror(-rc) : "closed");
	ctl_conn_free(s->conn);
	s->conn = NULL;
	s->server = (s->server + 1) % opt.servers;
	if (s->state != S_REFUSED)
		s->state = S_IDLE;
	s->reconnect_at = opt.reconnect && s->state != S_REFUSED ? now_ns() + RECONNECT_NS : 0;
	if (!s->reconnect_at && s->state != S_REFUSED)
		printf("c%d ended: %s\n", s->i, rc ? strerror(-rc) : "closed");
}

/* -s: one coordinator or several, comma-separated. */
static int parse_servers(const char *list, const char *key)
{
	char *copy = strdup(list), *save = NULL;
	int rc = copy ? 0 : -1;
	for (char *p = copy ? strtok_r(copy, ",", &save) : NULL; p && rc == 0; p = strtok_r(NULL, ",", &save))
		rc = opt.servers == MAX_SERVERS ? -1 : ctl_client_server(p, key, opt.server_key, &opt.ai[opt.servers++]);
	free(copy);
	return rc == 0 && opt.servers ? 0 : -1;
}

static int parse_args(int argc, char **argv, int *timeout)
{
	const char *server = NULL, *key = NULL;
	int c;
	while ((c = getopt(argc, argv, "s:k:d:n:a:r:H:oRSW:t:")) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'k': key = optarg; break;
		case 'd': opt.dir = optarg; break;
		case 'n': opt.n = atoi(optarg); break;
		case 'a': opt.authkey = optarg; break;
		case 'H': opt.hostname = optarg; break;
		case 'o': opt.once = true; break;
		case 'R': opt.reconnect = true; break;
		case 'S': opt.stall = true; break;
		case 'W': opt.slow = (size_t)atol(optarg); break;
		case 't': *timeout = atoi(optarg); break;
		case 'r':
			for (char *p = strtok(optarg, ","); p; p = strtok(NULL, ",")) {
				opt.routes.v = realloc(opt.routes.v, (opt.routes.n + 1) * sizeof *opt.routes.v);
				if (!opt.routes.v || ctl_prefix_parse(&opt.routes.v[opt.routes.n++], p) < 0)
					return -1;
			}
			break;
		default: return -1;
		}
	}
	if (!opt.dir || opt.n < 1 || opt.n > MAX_SESSIONS || !server)
		return -1;
	return parse_servers(server, key);
}

/* -o: 0 every session has a map, 1 every session has a map or is over
 * for good (refused, ended), -1 not yet. */
static int once_status(const struct sess *v)
{
	int status = 0;
	for (int i = 0; i < opt.n; i++) {
		if (v[i].state == S_MAPPED)
			continue;
		if (v[i].conn || v[i].reconnect_at)
			return -1;
		status = 1;
	}
	return status;
}

/* -W: this second's few bytes, fed to the connection as if it had read
 * them. */
static int slow_read(struct sess *s, uint64_t now)
{
	uint8_t buf[65536];
	size_t want = opt.slow < sizeof buf ? opt.slow : sizeof buf;
	ssize_t n = read(ctl_conn_fd(s->conn), buf, want);
	s->slow_read_at = now + 1000000000ULL;
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return ctl_conn_feed(s->conn, buf, (size_t)n, now);
}

static void step(struct sess *v, struct pollfd *pfd)
{
	uint64_t now = now_ns(), next = now + 1000000000ULL;
	for (int i = 0; i < opt.n; i++) {
		pfd[i] = (struct pollfd){ .fd = -1 };
		if (!v[i].conn) {
			if (v[i].reconnect_at && v[i].reconnect_at <= now && connect_sess(&v[i]) < 0)
				v[i].reconnect_at = now + RECONNECT_NS;
			if (!v[i].conn) {
				if (v[i].reconnect_at && v[i].reconnect_at < next)
					next = v[i].reconnect_at;
				continue;
			}
		}
		pfd[i].fd = ctl_conn_fd(v[i].conn);
		bool reading = !((opt.stall || opt.slow) && v[i].state == S_MAPPED);
		if (opt.slow && v[i].state == S_MAPPED && v[i].slow_read_at < next)
			next = v[i].slow_read_at;
		pfd[i].events = (reading ? POLLIN : 0) | (ctl_conn_wants_write(v[i].conn) ? POLLOUT : 0);
		uint64_t d = ctl_conn_deadline(v[i].conn);
		if (d < next)
			next = d;
	}
	int ms = next > now ? (int)((next - now) / 1000000) + 1 : 0;
	if (poll(pfd, (nfds_t)opt.n, ms) < 0)
		return;
	now = now_ns();
	for (int i = 0; i < opt.n; i++) {
		struct sess *s = &v[i];
		int rc = 0;
		if (!s->conn)
			continue;
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			rc = ctl_conn_on_readable(s->conn, now);
		if (rc == 0 && opt.slow && s->state == S_MAPPED && s->slow_read_at <= now)
			rc = slow_read(s, now);
		if (rc == 0 && (pfd[i].revents & POLLOUT))
			rc = ctl_conn_on_writable(s->conn, now);
		if (rc == 0)
			rc = ctl_conn_tick(s->conn, now);
		if (rc < 0 || ctl_conn_finished(s->conn))
			end_sess(s, rc);
	}
}

int main(int argc, char **argv)
{
	int timeout = 30, status = 3;
	if (sodium_init() < 0 || parse_args(argc, argv, &timeout) < 0) {
		fprintf(stderr, "usage: ctlclient -s HOST:PORT -k KEY -d DIR [-n N] [-a AUTHKEY] [-r PREFIXES] "
				"[-H HOSTNAME] [-o] [-R] [-S | -W BYTES] [-t SECONDS]\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	struct sess *v = calloc((size_t)opt.n, sizeof *v);
	struct pollfd *pfd = calloc((size_t)opt.n, sizeof *pfd);
	if (!v || !pfd)
		return 2;
	if (mkdir(opt.dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "ctlclient: %s: %s\n", opt.dir, strerror(errno));
		return 2;
	}
	for (int i = 0; i < opt.n; i++) {
		v[i].i = i;
		v[i].server = i % opt.servers;
		if (load_identity(&v[i]) < 0 || connect_sess(&v[i]) < 0) {
			fprintf(stderr, "ctlclient: session %d cannot start\n", i);
			return 2;
		}
	}
	uint64_t end = now_ns() + (uint64_t)timeout * 1000000000ULL;
	while (!stop && now_ns() < end) {
		step(v, pfd);
		int st = opt.once ? once_status(v) : -1;
		if (st >= 0) {
			status = st;
			break;
		}
	}
	if (stop)
		status = 0;
	if (status == 3)
		printf("ctlclient: timed out\n");
	for (int i = 0; i < opt.n; i++) {
		if (v[i].conn)
			ctl_conn_free(v[i].conn);
		if (v[i].has_map)
			ctl_netmap_free(&v[i].map);
		ctl_identity_wipe(&v[i].id);
	}
	free(v);
	free(pfd);
	free(opt.routes.v);
	for (int i = 0; i < opt.servers; i++)
		freeaddrinfo(opt.ai[i]);
	return status;
}

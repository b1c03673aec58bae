/* agent_cmd: accept, read one line, hand it over, answer, close. */
#include "agent_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_req.h"
#include "log.h"

struct agent_client {
	struct ev_watch w;
	struct agent_cmdsrv *srv;
	struct agent_client *prev, *next;
	bool watched;
	size_t len;
	char buf[AGENT_REQ_MAX + 1];
};

struct agent_cmdsrv {
	struct ev_loop *loop;
	struct ev_watch w;
	agent_cmd_fn *fn;
	void *arg;
	struct agent_client *clients;
};

void agent_cmd_default_path(char *out, size_t len, const char *ifname)
{
	snprintf(out, len, "%s/%s.sock", AGENT_CMD_DIR, ifname);
}

int agent_cmd_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof sa.sun_path];
	int rc;
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return rc;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "command socket: %s", strerror(errno));
		return rc;
	}
	unlink(path);
	mode_t old = umask(0077);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0 ? -errno : 0;
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

static void client_free(struct agent_client *c)
{
	struct agent_cmdsrv *s = c->srv;
	if (c->watched)
		ev_watch_del(s->loop, &c->w);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->w.fd);
	/* The request may have carried an auth key. */
	sodium_memzero(c->buf, c->len);
	free(c);
}

int agent_client_reply(struct agent_client *c, const char *text)
{
	struct timeval tv = { .tv_sec = 2 };
	size_t len = strlen(text);
	int rc = 0;
	/* Answers are small but a status of many peers is not: write it
	 * blocking, with a bound; without the bound, not at all. */
	int fl = fcntl(c->w.fd, F_GETFL);
	if (fl < 0 || fcntl(c->w.fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(c->w.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		rc = -errno;
	for (size_t off = 0; off <= len && rc == 0;) {
		const char *p = off < len ? text + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = send(c->w.fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -errno;
		else
			off += off < len ? (size_t)w : 1;
	}
	client_free(c);
	return rc;
}

static int on_client(void *arg, uint32_t events)
{
	struct agent_client *c = arg;
	(void)events;
	for (;;) {
		ssize_t n = read(c->w.fd, c->buf + c->len, AGENT_REQ_MAX - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			client_free(c);
			return 0;
		}
		char *nl = memchr(c->buf + c->len, '\n', (size_t)n);
		c->len += (size_t)n;
		if (nl || c->len == AGENT_REQ_MAX) {
			size_t line = nl ? (size_t)(nl - c->buf) : c->len;
			/* One request a connection: stop reading. */
			ev_watch_del(c->srv->loop, &c->w);
			c->watched = false;
			c->srv->fn(c->srv->arg, c, c->buf, line);
			return 0;
		}
	}
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && (cred.uid == 0 || cred.uid == geteuid());
}

static int on_accept(void *arg, uint32_t events)
{
	struct agent_cmdsrv *s = arg;
	(void)events;
	for (;;) {
		int fd = accept4(s->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return 0;
		if (!peer_allowed(fd)) {
			log_warn("command socket: a connection from another user refused");
			close(fd);
			continue;
		}
		struct agent_client *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = s;
		c->w = (struct ev_watch){ .fd = fd, .events = EPOLLIN, .fn = on_client, .arg = c };
		c->next = s->clients;
		if (s->clients)
			s->clients->prev = c;
		s->clients = c;
		if (ev_watch_add(s->loop, &c->w) < 0) {
			client_free(c);
			continue;
		}
		c->watched = true;
	}
}

struct agent_cmdsrv *agent_cmdsrv_new(struct ev_loop *loop, int listen_fd, agent_cmd_fn *fn, void *arg)
{
	struct agent_cmdsrv *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	*s = (struct agent_cmdsrv){ .loop = loop, .fn = fn, .arg = arg,
				    .w = { .fd = listen_fd, .events = EPOLLIN, .fn = on_accept, .arg = s } };
	int rc = ev_watch_add(loop, &s->w);
	if (rc < 0) {
		free(s);
		errno = -rc;
		return NULL;
	}
	return s;
}

void agent_cmdsrv_free(struct agent_cmdsrv *s)
{
	if (!s)
		return;
	while (s->clients)
		client_free(s->clients);
	ev_watch_del(s->loop, &s->w);
	close(s->w.fd);
	free(s);
}

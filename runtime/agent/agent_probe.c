/* agent_probe: TCP connects to the services behind a relay's routes. */
#include "agent_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool prefix_listed(const struct ctl_prefixes *routes, const struct ctl_prefix *p)
{
	for (size_t i = 0; i < routes->n; i++)
		if (memcmp(&routes->v[i], p, sizeof(*p)) == 0)
			return true;
	return false;
}

/* "tcp:PORT" (the prefix's one address) or "tcp:ADDRESS:PORT" into P. */
static int target_parse(struct agent_probe *p, const char *t, char *err, size_t errlen)
{
	char host[64];
	uint16_t port;
	bool bracketed;
	struct ctl_prefix *x = &p->r.prefix;
	unsigned long n;
	char *end;
	if (strncmp(t, "tcp:", 4) != 0) {
		snprintf(err, errlen, "probe \"%s\": only tcp:[ADDRESS:]PORT probes exist", t);
		return -EINVAL;
	}
	t += 4;
	if (!strchr(t, ':')) {
		n = strtoul(t, &end, 10);
		if (!*t || *end || n == 0 || n > 65535 || x->bits != (x->family == 4 ? 32 : 128)) {
			snprintf(err, errlen, "probe \"tcp:%s\": give tcp:PORT (1-65535) for a one-address route, "
				 "tcp:ADDRESS:PORT otherwise", t);
			return -EINVAL;
		}
		port = (uint16_t)n;
		inet_ntop(x->family == 4 ? AF_INET : AF_INET6, x->addr, host, sizeof host);
	} else if (ctl_hostport_split(t, host, sizeof host, &port, &bracketed) < 0) {
		snprintf(err, errlen, "probe \"tcp:%s\": not ADDRESS:PORT", t);
		return -EINVAL;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)&p->to;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->to;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		p->tolen = sizeof *in;
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		p->tolen = sizeof *in6;
	} else {
		snprintf(err, errlen, "probe \"tcp:%s\": %s is not an IP address", t, host);
		return -EINVAL;
	}
	snprintf(p->r.target, sizeof p->r.target, p->to.ss_family == AF_INET6 ? "tcp:[%s]:%u" : "tcp:%s:%u", host,
		 (unsigned)port);
	return 0;
}

/* One "PREFIX=tcp:..." entry. */
static int entry_parse(const char *e, const struct ctl_prefixes *routes, struct agent_probe *p, char *err,
		       size_t errlen)
{
	char prefix[64];
	const char *eq = strchr(e, '=');
	*p = (struct agent_probe){ .fd = -1 };
	if (!eq || (size_t)(eq - e) >= sizeof prefix) {
		snprintf(err, errlen, "route probe \"%s\": not PREFIX=tcp:[ADDRESS:]PORT", e);
		return -EINVAL;
	}
	memcpy(prefix, e, (size_t)(eq - e));
	prefix[eq - e] = '\0';
	if (ctl_prefix_parse(&p->r.prefix, prefix) < 0) {
		snprintf(err, errlen, "route probe \"%s\": %s is not a prefix", e, prefix);
		return -EINVAL;
	}
	if (!prefix_listed(routes, &p->r.prefix)) {
		snprintf(err, errlen, "route probe \"%s\": %s is not an advertised route", e, prefix);
		return -EINVAL;
	}
	return target_parse(p, eq + 1, err, errlen);
}

int agent_probe_parse(const char *spec, const struct ctl_prefixes *routes, struct agent_probes *out, char *err,
		      size_t errlen)
{
	char *copy = strdup(spec), *save = NULL;
	int rc = copy ? 0 : -ENOMEM;
	agent_probe_clear(out);
	out->n = 0;
	for (char *e = copy ? strtok_r(copy, ",", &save) : NULL; e && rc == 0; e = strtok_r(NULL, ",", &save)) {
		if (out->n == AGENT_PROBE_MAX) {
			snprintf(err, errlen, "more than %d route probes", AGENT_PROBE_MAX);
			rc = -EINVAL;
		} else if ((rc = entry_parse(e, routes, &out->v[out->n], err, errlen)) == 0) {
			out->n++;
		}
	}
	free(copy);
	out->changed = true;
	return rc;
}

static void finish(struct agent_probe *p, bool ok, bool *changed)
{
	close(p->fd);
	p->fd = -1;
	*changed |= !p->known || p->r.ok != ok;
	p->known = true;
	p->r.ok = ok;
}

static void start(struct agent_probe *p, uint64_t now, bool *changed)
{
	p->started = now;
	p->next_at = now + AGENT_PROBE_EVERY_NS;
	p->fd = socket(p->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return;
	if (connect(p->fd, (struct sockaddr *)&p->to, p->tolen) == 0)
		finish(p, true, changed);
	else if (errno != EINPROGRESS)
		finish(p, false, changed);
}

bool agent_probe_run(struct agent_probes *ps, uint64_t now)
{
	bool changed = false;
	for (size_t i = 0; i < ps->n; i++) {
		struct agent_probe *p = &ps->v[i];
		if (p->fd >= 0) {
			struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
			int err = 0;
			socklen_t len = sizeof err;
			if (poll(&pfd, 1, 0) == 1) {
				getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				finish(p, err == 0, &changed);
			} else if (now - p->started >= AGENT_PROBE_TIMEOUT_NS) {
				finish(p, false, &changed);
			}
		}
		if (p->fd < 0 && now >= p->next_at)
			start(p, now, &changed);
	}
	ps->changed |= changed;
	return changed;
}

void agent_probe_clear(struct agent_probes *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].fd >= 0) {
			close(ps->v[i].fd);
			ps->v[i].fd = -1;
		}
}

void agent_probe_results(const struct agent_probes *ps, struct ctl_probe *out, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].known)
			out[(*n)++] = ps->v[i].r;
}

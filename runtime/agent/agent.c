/* agent: setup, the commands (up, down, status) and the `up` being tried. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent_fwd.h"
#include "agent_int.h"
#include "agent_req.h"
#include "ctl_authkey.h"
#include "log.h"
#include "secmem.h"

const struct agent_prefs *agent_cur_prefs(const struct agent *a)
{
	return a->has_try ? &a->try_prefs : &a->prefs;
}

static void reply_json(struct agent_client *c, cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	agent_client_reply(c, text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
	free(text);
	cJSON_Delete(j);
}

static void reply_error(struct agent_client *c, const char *why)
{
	char *text = agent_req_error_text(why);
	agent_client_reply(c, text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
	free(text);
}

static cJSON *ok_answer(struct agent *a)
{
	cJSON *j = cJSON_CreateObject();
	if (j && (!cJSON_AddBoolToObject(j, "ok", true) || !cJSON_AddStringToObject(j, "interface", a->ifname) ||
		  !cJSON_AddStringToObject(j, "name", a->node_name) ||
		  !cJSON_AddNumberToObject(j, "generation", a->has_applied ? (double)a->applied.generation : 0) ||
		  (a->has_applied && !ctl_json_add_prefixes(j, "addresses", &a->applied.self.addresses)))) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

void agent_answer_waiting(struct agent *a, bool ok, const char *why)
{
	for (size_t i = 0; i < a->n_waiting; i++) {
		if (ok)
			reply_json(a->waiting[i], ok_answer(a));
		else
			reply_error(a->waiting[i], why);
	}
	a->n_waiting = 0;
}

static void drop_try(struct agent *a)
{
	if (a->authkey) {
		sodium_memzero(a->authkey, strlen(a->authkey));
		free(a->authkey);
		a->authkey = NULL;
	}
	if (a->has_try)
		agent_prefs_free(&a->try_prefs);
	a->has_try = false;
}

void agent_try_failed(struct agent *a, const char *why)
{
	agent_answer_waiting(a, false, why);
	drop_try(a);
}

int agent_try_commit(struct agent *a)
{
	struct agent_prefs next = a->try_prefs;
	next.registered = true;
	next.want_up = true;
	int rc = agent_state_save_prefs(a->state_dir, &next);
	if (rc < 0) {
		log_err("%s: cannot store prefs: %s", a->ifname, strerror(-rc));
		return rc;
	}
	agent_prefs_free(&a->prefs);
	a->prefs = next;
	memset(&a->try_prefs, 0, sizeof a->try_prefs);
	a->has_try = false;
	drop_try(a);
	return 0;
}

/* The state directory and the keys: made on the first `up`, so that a
 * keygated used as a plain WireGuard daemon leaves nothing behind. */
static int open_state(struct agent *a, char *err, size_t errlen)
{
	uint8_t machine[32];
	int rc;
	if (a->keys_loaded)
		return 0;
	if ((rc = agent_state_open(a->state_dir, err, errlen)) < 0)
		return rc;
	if ((rc = agent_state_key(a->state_dir, "machine.key", machine)) < 0 ||
	    (rc = agent_state_key(a->state_dir, "wg.key", a->wg_key)) < 0) {
		snprintf(err, errlen, "%s: keys: %s", a->state_dir, strerror(-rc));
		return rc;
	}
	rc = ctl_identity_init(&a->id, machine);
	sodium_memzero(machine, sizeof machine);
	if (rc < 0) {
		snprintf(err, errlen, "%s/machine.key: not a key", a->state_dir);
		return rc;
	}
	a->keys_loaded = true;
	return 0;
}

/* The prefs an `up` asks for, from the request and what is stored.  0 or
 * -EINVAL with a reason in WHY. */
static int prefs_from(struct agent *a, struct agent_req *r, struct agent_prefs *p, char *why, size_t whylen)
{
	struct ctl_authkey k;
	char server[CTL_AUTHKEY_MAX_HOST + 16];
	int rc;
	memset(p, 0, sizeof *p);
	if (!r->authkey && !a->prefs.registered) {
		snprintf(why, whylen, "this node is not registered yet: give --authkey");
		return -EINVAL;
	}
	if ((rc = agent_prefs_copy(p, &a->prefs)) < 0)
		goto fail_nomem;
	if (r->authkey) {
		if ((rc = ctl_authkey_parse(&k, r->authkey)) < 0) {
			snprintf(why, whylen, "authkey: not an auth key");
			goto fail;
		}
		/* A key for another coordinator: a new registration. */
		if (sodium_memcmp(p->server_key, k.server_key, 32) != 0)
			p->registered = false;
		memcpy(p->server_key, k.server_key, 32);
		snprintf(server, sizeof server, strchr(k.host, ':') ? "[%s]:%u" : "%s:%u", k.host, k.port);
		ctl_authkey_wipe(&k);
		free(p->login_server);
		if (!(p->login_server = strdup(server)))
			goto fail_nomem;
	}
	if (r->login_server) {
		free(p->login_server);
		if (!(p->login_server = strdup(r->login_server)))
			goto fail_nomem;
	}
	if (r->hostname) {
		free(p->hostname);
		if (!(p->hostname = strdup(r->hostname)))
			goto fail_nomem;
	}
	if (r->has_routes) {
		ctl_prefixes_free(&p->routes);
		p->routes = r->routes;
		memset(&r->routes, 0, sizeof r->routes);
	}
	if (r->has_accept_routes)
		p->accept_routes = r->accept_routes;
	if (r->snat_to) {
		free(p->snat_to);
		p->snat_to = NULL;
		if (*r->snat_to && !(p->snat_to = strdup(r->snat_to)))
			goto fail_nomem;
	}
	if (r->route_probes) {
		free(p->route_probes);
		p->route_probes = NULL;
		if (*r->route_probes && !(p->route_probes = strdup(r->route_probes)))
			goto fail_nomem;
	}
	/* Checked against the routes as they now are. */
	struct agent_probes check = { 0 };
	if (p->route_probes && (rc = agent_probe_parse(p->route_probes, &p->routes, &check, why, whylen)) < 0)
		goto fail;
	if ((rc = agent_fwd_check(a->sysctl_dir, &p->routes, why, whylen)) < 0)
		goto fail;
	p->want_up = true;
	return 0;
fail_nomem:
	rc = -ENOMEM;
	snprintf(why, whylen, "out of memory");
fail:
	agent_prefs_free(p);
	return rc;
}

static void cmd_up(struct agent *a, struct agent_client *c, struct agent_req *r)
{
	struct agent_prefs p;
	char why[1024];
	if (a->n_waiting == AGENT_MAX_WAITING) {
		reply_error(c, "too many `up` commands waiting");
		return;
	}
	if (open_state(a, why, sizeof why) < 0) {
		reply_error(c, why);
		return;
	}
	if (prefs_from(a, r, &p, why, sizeof why) < 0) {
		reply_error(c, why);
		return;
	}
	/* A newer `up` replaces one still being tried. */
	agent_answer_waiting(a, false, "replaced by a newer `up`");
	drop_try(a);
	a->try_prefs = p;
	a->has_try = true;
	a->authkey = r->authkey;
	r->authkey = NULL;
	a->waiting[a->n_waiting++] = c;
	a->failures = 0;
	agent_link_start(a);
}

static void cmd_down(struct agent *a, struct agent_client *c)
{
	char why[512];
	agent_answer_waiting(a, false, "`down` ran");
	drop_try(a);
	agent_link_stop(a);
	a->reconnect_at = 0;
	agent_link_rearm(a);
	a->prefs.want_up = false;
	int rc = agent_sys_teardown(a, why, sizeof why);
	if (a->prefs.login_server)
		agent_state_save_prefs(a->state_dir, &a->prefs);
	agent_state_forget_netmap(a->state_dir, &a->journal);
	if (rc < 0) {
		reply_error(c, why);
		return;
	}
	log_info("%s: down: peers, addresses, routes, rules and table inet keygate removed", a->ifname);
	cJSON *j = cJSON_CreateObject();
	if (j && (!cJSON_AddBoolToObject(j, "ok", true) || !cJSON_AddStringToObject(j, "interface", a->ifname))) {
		cJSON_Delete(j);
		j = NULL;
	}
	reply_json(c, j);
}

static void on_command(void *arg, struct agent_client *c, const char *line, size_t len)
{
	struct agent *a = arg;
	struct agent_req r;
	char err[512];
	if (agent_req_parse(line, len, &r, err, sizeof err) < 0) {
		reply_error(c, err);
		return;
	}
	switch (r.cmd) {
	case AGENT_CMD_UP:
		cmd_up(a, c, &r);
		break;
	case AGENT_CMD_DOWN:
		cmd_down(a, c);
		break;
	case AGENT_CMD_STATUS: {
		char *text = agent_status_text(a);
		agent_client_reply(c, text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
		free(text);
		break;
	}
	}
	agent_req_free(&r);
}

static void on_tamper(void *arg, const char *what, const char *err, double ms)
{
	struct agent *a = arg;
	snprintf(a->tamper_what, sizeof a->tamper_what, "%s", what);
	snprintf(a->repair_error, sizeof a->repair_error, "%s", err ? err : "");
	a->tamper.count++;
	a->tamper.at = (uint64_t)time(NULL);
	a->tamper.what = a->tamper_what;
	a->repair_ms = ms;
	if (err)
		log_err("%s: another process changed our nftables table (%s); repairing it failed: %s", a->ifname, what,
			err);
	else
		log_warn("%s: another process changed our nftables table (%s); repaired in %.1f ms", a->ifname, what, ms);
	agent_link_report_tamper(a);
}

/* A node that was up: its stored netmap first, then the coordinator. */
static void resume(struct agent *a)
{
	struct ctl_netmap m;
	char err[512];
	int rc = agent_state_load_netmap(a->state_dir, &m, err, sizeof err);
	if (rc == -ENOENT) {
		log_info("%s: no stored netmap; connecting to %s", a->ifname, a->prefs.login_server);
	} else if (rc < 0) {
		log_err("%s: %s; nothing applied until the coordinator sends a netmap", a->ifname, err);
	} else if ((rc = agent_sys_prepare(a, err, sizeof err)) < 0) {
		log_err("%s: %s", a->ifname, err);
		ctl_netmap_free(&m);
	} else if ((rc = agent_sys_apply(a, &m, true)) < 0) {
		log_err("%s: the stored netmap did not apply (fail closed: nothing of it stays): %s", a->ifname,
			a->apply_error);
		ctl_netmap_free(&m);
	} else {
		log_info("%s: stored netmap %llu applied; connecting to %s", a->ifname,
			 (unsigned long long)a->applied.generation, a->prefs.login_server);
	}
	agent_link_start(a);
}

/* A node that was up before: its state.  A missing directory is a node
 * that never was. */
static int load(struct agent *a, char *err, size_t errlen)
{
	struct stat st;
	int rc;
	if (stat(a->state_dir, &st) < 0 && errno == ENOENT)
		return 0;
	if ((rc = open_state(a, err, errlen)) < 0)
		return rc;
	rc = agent_state_load_prefs(a->state_dir, &a->prefs, err, errlen);
	return rc == -ENOENT ? 0 : rc;
}

struct agent *agent_new(struct ev_loop *loop, struct wgdev *dev, const struct agent_config *cfg, char *err,
			size_t errlen)
{
	struct agent *a = secmem_alloc(sizeof *a);	/* machine and WireGuard keys */
	if (!a) {
		snprintf(err, errlen, "out of memory");
		close(cfg->cmd_fd);
		return NULL;
	}
	a->loop = loop;
	a->dev = dev;
	a->timer_fd = -1;
	snprintf(a->ifname, sizeof a->ifname, "%s", cfg->ifname);
	a->sysctl_dir = cfg->sysctl_dir ? cfg->sysctl_dir : AGENT_SYSCTL_DIR;
	a->cmd = agent_cmdsrv_new(loop, cfg->cmd_fd, on_command, a);
	if (!a->cmd) {
		close(cfg->cmd_fd);
		snprintf(err, errlen, "command socket: %s", strerror(errno));
		goto fail;
	}
	if (!(a->state_dir = strdup(cfg->state_dir)) || !(a->rt = rtnl_open()) ||
	    !(a->nft = agent_nft_new(NULL, cfg->ifname)) ||
	    (a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "agent setup: %s", strerror(errno));
		goto fail;
	}
	agent_nft_watch(a->nft, loop, on_tamper, a);
	if (agent_ha_start(a) < 0) {
		snprintf(err, errlen, "agent setup: failover timer: %s", strerror(errno));
		goto fail;
	}
	if (load(a, err, errlen) < 0)
		goto fail;
	agent_link_rearm(a);
	if (a->prefs.want_up)
		resume(a);
	return a;
fail:
	agent_free(a);
	return NULL;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	agent_answer_waiting(a, false, "keygated is stopping");
	drop_try(a);
	agent_link_stop(a);
	agent_ha_stop(a);
	if (a->timer_w.fn)
		ev_watch_del(a->loop, &a->timer_w);
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	agent_cmdsrv_free(a->cmd);
	agent_nft_free(a->nft);
	rtnl_close(a->rt);
	if (a->has_applied)
		ctl_netmap_free(&a->applied);
	agent_routes_free(&a->routes);
	agent_prefs_free(&a->prefs);
	ctl_identity_wipe(&a->id);
	sodium_memzero(a->wg_key, sizeof a->wg_key);
	free(a->state_dir);
	secmem_free(a, sizeof *a);
}

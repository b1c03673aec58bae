/* keygate-coord: the coordinator.  Options and the three modes: serve,
 * check (-n) and show the key (--show-key). */
#include "coord_srv.h"
#include "coord_state.h"
#include "diag.h"
#include "log.h"
#include "netmap.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct opts {
	const char *state, *db, *listen, *public_addr, *user;
	bool foreground, check, show_key;
	long long key_lifetime;		/* -1: the default */
	enum log_level level;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate-coord --state DIR [--db DB] --listen ADDR:PORT [--public HOST:PORT] [--user USER]\n"
		   "                    [--key-lifetime S] [-f] [-v]\n"
		   "       keygate-coord -n --state DIR [--db DB]\n"
		   "       keygate-coord --show-key --state DIR [--db DB]\n"
		   "  --state DIR         the state directory (created on first start)\n"
		   "  --db DB             the store: postgresql://... (shared by several coordinators,\n"
		   "                      which then share its key pair too) or sqlite:PATH\n"
		   "                      (default: DIR/state.db)\n"
		   "  --listen ADDR:PORT  where nodes connect\n"
		   "  --public HOST:PORT  the address auth keys carry (default: --listen's)\n"
		   "  -u, --user USER     started as root: become USER before anything else\n"
		   "  --key-lifetime S    a new node's key expires S seconds after it registers\n"
		   "                      (default 180 days; 0: never)\n"
		   "  -n                  check the state and the live policy, say so, exit\n"
		   "  --show-key          print the coordinator's public key\n"
		   "  -f                  stay in the foreground, log to stderr\n"
		   "  -v                  log debug messages\n");
}

/* 0: run; 1 or 2: exit with that status (after a message). */
static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' }, { "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "public", required_argument, NULL, 'p' }, { "user", required_argument, NULL, 'u' },
		{ "show-key", no_argument, NULL, 'k' }, { "key-lifetime", required_argument, NULL, 'e' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	int opt;
	*o = (struct opts){ .level = LOG_LEVEL_INFO, .key_lifetime = -1 };
	char *end;
	while ((opt = getopt_long(argc, argv, "fvnhu:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o->state = optarg; break;
		case 'd': o->db = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'p': o->public_addr = optarg; break;
		case 'u': o->user = optarg; break;
		case 'k': o->show_key = true; break;
		case 'e':
			o->key_lifetime = strtoll(optarg, &end, 10);
			if (end == optarg || *end || o->key_lifetime < 0) {
				fprintf(stderr, "keygate-coord: --key-lifetime %s: not a number of seconds\n", optarg);
				return 2;
			}
			break;
		case 'f': o->foreground = true; break;
		case 'v': o->level = LOG_LEVEL_DEBUG; break;
		case 'n': o->check = true; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !o->state || (!o->listen && !o->check && !o->show_key) ||
	    (o->check && o->show_key)) {
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Become USER (started as root).  0 or -errno. */
static int become(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_err("--user %s: no such user", user);
		return -ENOENT;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_err("--user %s: %s", user, strerror(errno));
		return -errno;
	}
	return 0;
}

static int show_key(const char *dir, const char *db)
{
	struct coord_state st;
	char err[512], key[45];
	if (coord_state_open(&st, dir, db, false, err, sizeof err) < 0) {
		log_err("%s", err);
		return 1;
	}
	coord_key_base64(key, st.id.public_key);
	printf("%s\n", key);
	coord_state_close(&st);
	return 0;
}

/* -n: the state opens and the live policy compiles against its inventory. */
static int check(const char *dir, const char *db)
{
	struct coord_state st;
	struct diag_list diags = { 0 };
	struct netmap_world *w;
	char err[512];
	int64_t gen;
	int status = 1;
	if (coord_state_open(&st, dir, db, false, err, sizeof err) < 0) {
		log_err("%s", err);
		return 1;
	}
	int rc = netmap_world_build(st.store, NULL, &gen, &w, &diags);
	diag_print(stderr, &diags);
	if (rc < 0) {
		log_err("%s: the live policy does not compile against the nodes: %s", dir, strerror(-rc));
		goto close_state;
	}
	printf("keygate-coord: %s: state ok (%zu nodes, generation %lld)\n", dir, netmap_node_count(w),
	       (long long)gen);
	netmap_world_free(w);
	status = 0;
close_state:
	diag_list_free(&diags);
	coord_state_close(&st);
	return status;
}

/* Every connected node holds a descriptor: the soft limit goes up to the
 * hard one (a default soft limit of 1,024 would refuse the 1,025th node). */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the descriptor limit: %s", strerror(errno));
}

/* Every change builds a world and frees the last: with glibc's defaults
 * the freed top of the heap goes back to the kernel and the next build
 * faults it in again, and big arrays are mapped and unmapped each time
 * (each unmap a TLB shootdown on every core).  Keep up to TRIM of free
 * heap and take arrays below MMAP from the heap: a world's cost is then
 * its computation. */
#define HEAP_TRIM (256 << 20)
#define HEAP_MMAP (64 << 20)
static void keep_heap(void)
{
	if (!mallopt(M_TRIM_THRESHOLD, HEAP_TRIM) || !mallopt(M_MMAP_THRESHOLD, HEAP_MMAP))
		log_warn("cannot tune the heap (mallopt): worlds cost more");
}

static int serve(const struct opts *o)
{
	struct coord_state st;
	struct coord_srv *srv;
	char err[512], key[45];
	int status = 1;
	if (coord_state_open(&st, o->state, o->db, true, err, sizeof err) < 0) {
		log_err("%s", err);
		return 1;
	}
	coord_key_base64(key, st.id.public_key);
	if (st.created_key) {
		printf("keygate-coord: new key pair in %s; public key %s\n", o->db && store_shared(st.store) ?
		       "the database" : o->state, key);
		fflush(stdout);
	}
	if (o->key_lifetime >= 0)
		st.key_lifetime = o->key_lifetime;
	raise_nofile();
	keep_heap();
	struct coord_srv_config cfg = { .state = &st, .listen = o->listen, .public_addr = o->public_addr };
	if (coord_srv_new(&cfg, &srv) < 0)
		goto close_state;
	if (!o->foreground) {
		if (daemon(0, 0) < 0) {
			log_err("cannot daemonize: %s", strerror(errno));
			goto free_srv;
		}
		log_init("keygate-coord", false, o->level);
	}
	log_info("listening on %s, state %s, key %s", o->listen, o->state, key);
	status = coord_srv_run(srv) < 0;
free_srv:
	coord_srv_free(srv);
close_state:
	coord_state_close(&st);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	log_init("keygate-coord", true, o.level);
	if (o.user && become(o.user) < 0)
		return 1;
	umask(077);
	if (o.show_key)
		return show_key(o.state, o.db);
	if (o.check)
		return check(o.state, o.db);
	if (geteuid() == 0)
		log_warn("running as root: the coordinator needs no privilege; use --user");
	return serve(&o);
}

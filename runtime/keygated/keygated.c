/* keygated: WireGuard-compatible daemon, a drop-in for `wireguard-go -f IFNAME`.
 * Option parsing and the setup order (privileged first, then drop). */
#include "agent.h"
#include "agent_cmd.h"
#include "agent_nft.h"
#include "evloop.h"
#include "log.h"
#include "nftg.h"
#include "privdrop.h"
#include "tun.h"
#include "uapisrv.h"
#include "wgdev.h"
#include "wgloop.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

struct options {
	bool foreground, offload, guard;
	enum log_level level;
	unsigned clock_rate, load_threshold;	/* for the test suite (keygated(8)) */
	const char *ifname;
	const char *state_dir, *socket_path;	/* the agent's; NULL: defaults */
	const char *user;			/* NULL: KEYGATED_USER if it exists */
};

/* The user keygated becomes by default (`make install` creates it). */
#define KEYGATED_USER "keygate"

static void usage(FILE *f)
{
	fprintf(f, "usage: keygated [-f] [-v] [-u USER] [--no-offload] [--no-guard] [--state-dir DIR] [--socket PATH]\n"
		   "                IFNAME\n"
		   "  -f               stay in the foreground, log to stderr\n"
		   "  -v               log debug messages\n"
		   "  -u, --user USER  run as USER after the set-up (default " KEYGATED_USER " if it exists)\n"
		   "  --no-offload     open the TUN device without offloads\n"
		   "  --no-guard       forward from the tunnel without keygate's filter (fail open)\n"
		   "  --state-dir DIR  the agent's state (default " AGENT_STATE_DIR "/IFNAME)\n"
		   "  --socket PATH    the command socket (default " AGENT_CMD_DIR "/IFNAME.sock)\n");
}

/* ARG as a number from MIN to MAX: 0 or -EINVAL (with a message). */
static int parse_knob(const char *name, const char *arg, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || *arg == '-' || n < min || n > max) {
		fprintf(stderr, "keygated: --%s: not a number from %u to %u\n", name, min, max);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

/* 0 to run, 1 to exit 0 (-h), 2 for a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_NO_OFFLOAD = 256, OPT_NO_GUARD, OPT_CLOCK_RATE, OPT_LOAD_THRESHOLD, OPT_STATE_DIR, OPT_SOCKET };
	static const struct option longopts[] = {
		{ "no-offload", no_argument, NULL, OPT_NO_OFFLOAD },
		{ "no-guard", no_argument, NULL, OPT_NO_GUARD },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "user", required_argument, NULL, 'u' },
		{ "test-clock-rate", required_argument, NULL, OPT_CLOCK_RATE },
		{ "test-load-threshold", required_argument, NULL, OPT_LOAD_THRESHOLD },
		{ 0 },
	};
	int opt;
	*o = (struct options){ .offload = true, .guard = true, .level = LOG_LEVEL_INFO, .clock_rate = 1 };
	while ((opt = getopt_long(argc, argv, "fvhu:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': o->foreground = true; break;
		case 'v': o->level = LOG_LEVEL_DEBUG; break;
		case 'u': o->user = optarg; break;
		case 'h': usage(stdout); return 1;
		case OPT_NO_OFFLOAD: o->offload = false; break;
		case OPT_NO_GUARD: o->guard = false; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_SOCKET: o->socket_path = optarg; break;
		case OPT_CLOCK_RATE:
			if (parse_knob("test-clock-rate", optarg, 1, WGDEV_CLOCK_RATE_MAX, &o->clock_rate))
				return 2;
			break;
		case OPT_LOAD_THRESHOLD:
			if (parse_knob("test-load-threshold", optarg, 1, WGDEV_LOAD_THRESHOLD_MAX, &o->load_threshold))
				return 2;
			break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o->ifname = argv[optind];
	return 0;
}

/* The test options, each said in the log when in effect. */
static void apply_test_options(struct wgdev *dev, const struct options *o)
{
	if (o->clock_rate != 1) {
		wgdev_set_clock_rate(dev, o->clock_rate);
		log_warn("--test-clock-rate=%u: a test setting is in effect", o->clock_rate);
	}
	if (o->load_threshold) {
		wgdev_set_load_threshold(dev, o->load_threshold);
		log_warn("--test-load-threshold=%u: a test setting is in effect", o->load_threshold);
	}
}

struct sigwatch {
	struct ev_watch w;
	const char *ifname;
	const char *state_dir, *socket_path;	/* the agent's; NULL: defaults */
};

static int on_signal(void *arg, uint32_t events)
{
	struct sigwatch *sw = arg;
	struct signalfd_siginfo si;
	(void)events;
	if (read(sw->w.fd, &si, sizeof si) != sizeof si)
		return 0;
	log_info("%s: signal %u: shutting down", sw->ifname, si.ssi_signo);
	return 1;
}

/* Everything joins one event loop: the data path, the API socket, the
 * agent (its command socket and the coordinator) and the termination
 * signals.  0 on a clean stop, -errno on a fatal error. */
static int run(struct wgdev *dev, int uapi_fd, int sigfd, struct agent_config *acfg)
{
	struct sigwatch sig = { .w = { .fd = sigfd, .events = EPOLLIN, .fn = on_signal, .arg = &sig },
				.ifname = dev->ifname };
	struct wgloop *data;
	struct uapisrv *api;
	struct agent *agent;
	char err[512];
	int rc;
	struct ev_loop *loop = ev_loop_new();
	if (!loop) {
		rc = -errno;
		goto out;
	}
	data = wgloop_new(loop, dev);
	if (!data) {
		rc = -errno;
		goto free_loop;
	}
	api = uapisrv_new(loop, uapi_fd, dev);
	if (!api) {
		rc = -errno;
		goto free_data;
	}
	agent = agent_new(loop, dev, acfg, err, sizeof err);
	acfg->cmd_fd = -1;
	if (!agent) {
		log_err("%s: agent: %s", dev->ifname, err);
		rc = -EINVAL;
		goto free_api;
	}
	rc = ev_watch_add(loop, &sig.w);
	if (rc)
		goto free_agent;
	rc = ev_loop_run(loop);
	ev_watch_del(loop, &sig.w);
free_agent:
	agent_free(agent);
free_api:
	uapisrv_free(api);
free_data:
	wgloop_free(data);
free_loop:
	ev_loop_free(loop);
out:
	if (rc < 0)
		log_err("%s: event loop: %s", dev->ifname, strerror(-rc));
	return rc;
}

/* The fail-closed guard (nftg.h), made before any packet can flow and
 * held until the tunnel device is gone.  *G stays NULL with --no-guard.
 * 0 or -errno (logged). */
static int guard_open(const struct options *o, struct nftg **g)
{
	char err[256];
	*g = NULL;
	if (!o->guard) {
		log_warn("%s: --no-guard: packets from the tunnel are forwarded without keygate's filter in force",
			 o->ifname);
		return 0;
	}
	if (!(*g = nftg_open(o->ifname, err, sizeof err))) {
		int rc = -errno;
		log_err("%s: %s; keygated forwards nothing unguarded (--no-guard to run without)", o->ifname, err);
		return rc;
	}
	log_info("%s: guard table inet %s in force (owned%s): only what keygate's filter passes is forwarded",
		 o->ifname, nftg_table(*g), nftg_persistent(*g) ? ", persistent" : "");
	return 0;
}

/* After the tunnel device is gone: the guard can go. */
static void guard_close(struct nftg *g, const char *ifname)
{
	int rc = nftg_close(g);
	if (rc < 0)
		log_warn("%s: cannot delete the guard table: %s", ifname, strerror(-rc));
}

/* Who keygated becomes: -u USER, else KEYGATED_USER if it exists, else
 * it stays uid 0 (*U NULL, with a warning).  0 or -errno (logged). */
static int pick_user(const struct options *o, struct privdrop_user *buf, const struct privdrop_user **u)
{
	const char *name = o->user ? o->user : KEYGATED_USER;
	int rc = privdrop_lookup(name, buf);
	*u = rc == 0 ? buf : NULL;
	if (rc == -ENOENT && !o->user) {
		log_warn("no user %s (make install creates it; or -u USER): keygated stays uid 0, with the "
			 "capabilities of keygated(8) only", name);
		return 0;
	}
	if (rc)
		log_err("-u %s: %s", name, rc == -ENOENT ? "no such user" : strerror(-rc));
	return rc;
}

/* DIR U's (see privdrop_give_dir for FLAGS); a DIR not there yet is
 * fine.  0 or -errno (logged). */
static int give(const char *dir, const struct privdrop_user *u, unsigned flags)
{
	int rc = privdrop_give_dir(dir, u, flags);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EPERM)
		log_err("%s: group or others may enter it; make it 0700 before it is given to uid %u", dir,
			(unsigned)u->uid);
	else if (rc)
		log_err("%s: cannot give it to uid %u: %s", dir, (unsigned)u->uid, strerror(-rc));
	return rc;
}

/* DIR, one of keygated's own, made if missing, private, U's.  0 or -errno. */
static int give_own(const char *dir, const struct privdrop_user *u)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		log_err("%s: %m", dir);
		return rc;
	}
	return give(dir, u, PRIVDROP_PRIVATE);
}

/* Before the drop, what the agent writes later becomes U's: the default
 * command socket's directory (its socket is removed at exit), the default
 * state directories' parent (a first `keygate up` makes IFNAME there),
 * and a state directory with its files that root wrote.  0 or -errno. */
static int hand_over(const struct options *o, const char *statedir, const struct privdrop_user *u)
{
	int rc = 0;
	if (!u)
		return 0;
	if (!o->socket_path)
		rc = give_own(AGENT_CMD_DIR, u);
	if (!rc && !o->state_dir)
		rc = give_own(AGENT_STATE_DIR, u);
	return rc ? rc : give(statedir, u, PRIVDROP_FILES);
}

/* Fork; the parent exits, the child carries on detached. */
static int daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	int status = 1, rc;
	char err[256], sockpath[128], cmdpath[256], statedir[256];
	rc = parse_options(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	const char *ifname = o.ifname;
	bool offload = o.offload;
	log_init("keygated", true, o.level);
	agent_nft_keep_heap();
	if (sodium_init() < 0) {
		log_err("libsodium failed to initialise");
		return 1;
	}
	struct privdrop_user ubuf;
	const struct privdrop_user *user;
	if (pick_user(&o, &ubuf, &user) < 0)
		return 1;
	struct nftg *guard;
	if (guard_open(&o, &guard) < 0)
		return 1;
	int tun = tun_open(ifname, WGDEV_MTU, &offload, err, sizeof err);
	if (tun < 0) {
		log_err("%s", err);
		goto close_guard;
	}
	int uapi = uapisrv_listen(ifname, sockpath, sizeof sockpath, err, sizeof err);
	if (uapi < 0) {
		log_err("%s", err);
		goto close_tun;
	}
	struct agent_config acfg = { .ifname = ifname, .state_dir = o.state_dir, .cmd_fd = -1 };
	if (!acfg.state_dir) {
		snprintf(statedir, sizeof statedir, "%s/%s", AGENT_STATE_DIR, ifname);
		acfg.state_dir = statedir;
	}
	if (o.socket_path)
		snprintf(cmdpath, sizeof cmdpath, "%s", o.socket_path);
	else
		agent_cmd_default_path(cmdpath, sizeof cmdpath, ifname);
	if ((acfg.cmd_fd = agent_cmd_listen(cmdpath, err, sizeof err)) < 0) {
		log_err("%s", err);
		goto close_uapi;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	struct wgdev *dev = wgdev_new(ifname, tun, offload);
	if (sigfd < 0 || !dev) {
		log_err("setup failed: %m");
		goto free_dev;
	}
	apply_test_options(dev, &o);
	if ((rc = wgdev_bind(dev, 0)) != 0) {
		log_err("%s: cannot bind a UDP port: %s", ifname, strerror(-rc));
		goto free_dev;
	}
	if (hand_over(&o, acfg.state_dir, user) < 0)
		goto free_dev;
	if ((rc = privdrop_to(user)) != 0) {
		log_err("cannot drop privileges: %s", strerror(-rc));
		goto free_dev;
	}
	if (!o.foreground) {
		if ((rc = daemonize()) != 0) {
			log_err("cannot daemonize: %s", strerror(-rc));
			goto free_dev;
		}
		log_init("keygated", false, o.level);
	}
	log_info("%s: up, listening on UDP port %u, API socket %s, uid %u", ifname, dev->listen_port, sockpath,
		 (unsigned)getuid());
	rc = run(dev, uapi, sigfd, &acfg);
	status = rc ? 1 : 0;
free_dev:
	wgdev_free(dev);
	if (sigfd >= 0)
		close(sigfd);
	if (acfg.cmd_fd >= 0)
		close(acfg.cmd_fd);
	unlink(cmdpath);
close_uapi:
	close(uapi);
	unlink(sockpath);
close_tun:
	close(tun);
close_guard:
	guard_close(guard, ifname);
	return status;
}

/* keygated: WireGuard-compatible daemon, a drop-in for `wireguard-go -f IFNAME`.
 * Option parsing and the setup order (privileged first, then drop). */
#include "log.h"
#include "privdrop.h"
#include "tun.h"
#include "wgdev.h"
#include "wgloop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: keygated [-f] [-v] IFNAME\n"
		   "  -f  stay in the foreground, log to stderr\n"
		   "  -v  log debug messages\n");
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
	bool foreground = false;
	enum log_level level = LOG_LEVEL_INFO;
	int opt, status = 1, rc;
	char err[256], sockpath[128];
	while ((opt = getopt(argc, argv, "fvh")) != -1) {
		switch (opt) {
		case 'f': foreground = true; break;
		case 'v': level = LOG_LEVEL_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *ifname = argv[optind];
	log_init("keygated", true, level);
	if (sodium_init() < 0) {
		log_err("libsodium failed to initialise");
		return 1;
	}
	bool offload = !getenv("KEYGATED_NO_OFFLOAD");
	int tun = tun_open(ifname, WGDEV_MTU, &offload, err, sizeof err);
	if (tun < 0) {
		log_err("%s", err);
		return 1;
	}
	int uapi = wgloop_uapi_listen(ifname, sockpath, sizeof sockpath, err, sizeof err);
	if (uapi < 0) {
		log_err("%s", err);
		goto close_tun;
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
	if ((rc = wgdev_bind(dev, 0)) != 0) {
		log_err("%s: cannot bind a UDP port: %s", ifname, strerror(-rc));
		goto free_dev;
	}
	if ((rc = privdrop_keep_net()) != 0) {
		log_err("cannot drop privileges: %s", strerror(-rc));
		goto free_dev;
	}
	if (!foreground) {
		if ((rc = daemonize()) != 0) {
			log_err("cannot daemonize: %s", strerror(-rc));
			goto free_dev;
		}
		log_init("keygated", false, level);
	}
	log_info("%s: up, listening on UDP port %u, API socket %s", ifname, dev->listen_port, sockpath);
	rc = wgloop_run(dev, uapi, sigfd);
	status = rc ? 1 : 0;
free_dev:
	wgdev_free(dev);
	if (sigfd >= 0)
		close(sigfd);
	close(uapi);
	unlink(sockpath);
close_tun:
	close(tun);
	return status;
}

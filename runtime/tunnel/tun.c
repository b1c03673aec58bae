/* tun: open /dev/net/tun with IFF_TUN|IFF_NO_PI and set the MTU. */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int tun_open(const char *name, int mtu, bool *offload, char *err, size_t errlen)
{
	struct ifreq ifr;
	int rc, sock;
	if (strlen(name) >= IFNAMSIZ || !name[0]) {
		snprintf(err, errlen, "interface name '%s' is empty or longer than %d characters", name, IFNAMSIZ - 1);
		return -EINVAL;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		goto out;
	}
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (*offload ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		rc = -errno;
		snprintf(err, errlen, "TUNSETIFF %s: %s", name, strerror(errno));
		goto close_fd;
	}
	if (*offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) != 0) {
		/* A header without offloads is harmless: every packet is plain. */
		ioctl(fd, TUNSETOFFLOAD, 0);
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto close_fd;
	}
	ifr.ifr_mtu = mtu;
	rc = ioctl(sock, SIOCSIFMTU, &ifr) != 0 ? -errno : 0;
	if (rc)
		snprintf(err, errlen, "SIOCSIFMTU %s %d: %s", name, mtu, strerror(-rc));
	close(sock);
	if (rc)
		goto close_fd;
	return fd;
close_fd:
	close(fd);
out:
	return rc;
}

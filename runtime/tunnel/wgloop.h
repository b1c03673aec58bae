/* wgloop: keygated's event loop: the UDP sockets, the TUN device, the
 * userspace API socket and its connections, the timer tick and the
 * termination signals, all in one epoll set. */
#ifndef WGLOOP_H
#define WGLOOP_H
#include <stddef.h>

#include "wgdev.h"

/* Creates /var/run/wireguard/IFNAME.sock (PATH gets the path; PATHLEN
 * bytes) and returns the listening fd, or -errno with ERR filled. */
int wgloop_uapi_listen(const char *ifname, char *path, size_t pathlen, char *err, size_t errlen);
/* Runs until SIGINT or SIGTERM (blocked by the caller and passed as SIGFD)
 * or until the interface is deleted.  Returns 0 on a clean stop, -errno on a
 * fatal error. */
int wgloop_run(struct wgdev *dev, int uapi_fd, int sigfd);

#endif

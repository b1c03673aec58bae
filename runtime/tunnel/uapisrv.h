/* uapisrv: the userspace API socket of one device (what wg(8) talks to),
 * served from an event loop: non-blocking connections, requests framed
 * with uapi_frame and answered by wgdev_uapi. */
#ifndef UAPISRV_H
#define UAPISRV_H
#include <stddef.h>

#include "evloop.h"
#include "wgdev.h"

struct uapisrv;

/* Creates /var/run/wireguard/IFNAME.sock (PATH gets the path; PATHLEN
 * bytes) and returns the listening fd, or -errno with ERR filled. */
int uapisrv_listen(const char *ifname, char *path, size_t pathlen, char *err, size_t errlen);
/* Serve LISTEN_FD (not owned) for DEV on LOOP.  NULL on failure (errno set). */
struct uapisrv *uapisrv_new(struct ev_loop *loop, int listen_fd, struct wgdev *dev);
/* Closes the connections and leaves the loop. */
void uapisrv_free(struct uapisrv *srv);

#endif

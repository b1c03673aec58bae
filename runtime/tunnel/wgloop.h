/* wgloop: a device's data path joins an event loop: its TUN fd, its UDP
 * sockets (followed when the device rebinds them) and the protocol timer
 * tick.  The TUN device's removal stops the loop cleanly. */
#ifndef WGLOOP_H
#define WGLOOP_H
#include "evloop.h"
#include "wgdev.h"

struct wgloop;

/* Watch DEV's fds on LOOP.  NULL on failure (errno set, logged). */
struct wgloop *wgloop_new(struct ev_loop *loop, struct wgdev *dev);
void wgloop_free(struct wgloop *l);

#endif

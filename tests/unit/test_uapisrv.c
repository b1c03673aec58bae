/* uapisrv: a get on a device with thousands of peers is answered a slice
 * per loop turn, so other events (the data path) are served in between;
 * peers removed while it runs are left out and the reply stays whole. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evloop.h"
#include "t.h"
#include "uapisrv.h"
#include "wgdev.h"

enum { MANY = 3000, REMOVED = 1000 };

struct client {
	struct ev_watch w;
	char *reply;
	size_t len, cap;
};

struct turns {
	struct ev_watch w;	/* an eventfd that is always readable: called once a loop turn */
	struct wgdev *dev;
	struct wgconfig removal;
	int count;
};

static int on_reply(void *arg, uint32_t events)
{
	struct client *c = arg;
	(void)events;
	for (;;) {
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 1 << 20;
			c->reply = realloc(c->reply, c->cap);
		}
		ssize_t n = recv(c->w.fd, c->reply + c->len, c->cap - c->len - 1, MSG_DONTWAIT);
		if (n <= 0)
			break;
		c->len += (size_t)n;
	}
	c->reply[c->len] = 0;
	return c->len >= 2 && strcmp(c->reply + c->len - 2, "\n\n") == 0 ? 1 : 0;
}

/* Each loop turn; on the fifth (slices under way), remove REMOVED peers in the middle of the get. */
static int on_turn(void *arg, uint32_t events)
{
	struct turns *t = arg;
	(void)events;
	if (++t->count == 5 && wgdev_configure(t->dev, &t->removal) != 0)
		return -EIO;
	return t->count > 10000 ? -ETIMEDOUT : 0;
}

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);
	for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, plen) == 0;
	return n;
}

int main(void)
{
	struct ev_loop *loop = ev_loop_new();
	struct wgdev *dev = wgdev_new("kgtS", -1, false);
	if (sodium_init() < 0 || !loop || !dev) {
		T_CHECK(0, "set up a loop and a device");
		T_DONE();
	}
	struct wgconfig cfg = { 0 };
	struct turns turns = { .dev = dev };
	static uint8_t keys[MANY][32];
	for (int i = 0; i < MANY; i++) {
		randombytes_buf(keys[i], 32);
		uint8_t a[4] = { 10, (uint8_t)(i >> 8), (uint8_t)i, 1 };
		wgconfig_add_allowed_ip(wgconfig_add_peer(&cfg, keys[i]), AF_INET, a, 32);
		if (i >= 100 && i < 100 + REMOVED)
			wgconfig_add_peer(&turns.removal, keys[i])->remove = true;
	}
	T_CHECK(wgdev_configure(dev, &cfg) == 0 && dev->n_peers == MANY, "%d peers configured", MANY);
	wgconfig_free(&cfg);

	/* The server listens on a socket of our own; the client connects. */
	int listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/kgt-uapisrv-%d.sock", (int)getpid());
	unlink(sun.sun_path);
	bool up = bind(listen_fd, (void *)&sun, sizeof sun) == 0 && listen(listen_fd, 4) == 0;
	struct uapisrv *srv = up ? uapisrv_new(loop, listen_fd, dev) : NULL;
	int cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	up = srv && connect(cfd, (void *)&sun, sizeof sun) == 0 && write(cfd, "get=1\n\n", 7) == 7;
	T_CHECK(up, "API server listening, client connected, get sent");
	struct client cl = { .w = { .fd = cfd, .events = EPOLLIN, .fn = on_reply } };
	cl.w.arg = &cl;
	turns.w = (struct ev_watch){ .fd = eventfd(1, EFD_NONBLOCK), .events = EPOLLIN, .fn = on_turn, .arg = &turns };
	int rc = up ? ev_watch_add(loop, &cl.w) : -1;
	if (rc == 0)
		rc = ev_watch_add(loop, &turns.w);
	if (rc == 0)
		rc = ev_loop_run(loop);
	T_CHECK(rc == 0 && cl.len && strstr(cl.reply, "errno=0\n\n") == cl.reply + cl.len - 9,
		"the get's reply arrived whole, ending in errno=0 (rc %d, %zu bytes)", rc, cl.len);
	size_t keys_seen = cl.reply ? count_lines(cl.reply, "public_key=") : 0;
	size_t aips = cl.reply ? count_lines(cl.reply, "allowed_ip=") : 0;
	T_CHECK(turns.count >= MANY / 256, "it took %d loop turns (other events served between slices)", turns.count);
	T_CHECK(keys_seen >= MANY - REMOVED && keys_seen < MANY && aips == keys_seen && dev->n_peers == MANY - REMOVED,
		"peers removed during the get are left out, the rest listed with their allowed IPs (%zu peers, %zu IPs)",
		keys_seen, aips);
	uapisrv_free(srv);
	close(listen_fd);
	unlink(sun.sun_path);
	close(cfd);
	close(turns.w.fd);
	wgconfig_free(&turns.removal);
	free(cl.reply);
	wgdev_free(dev);
	ev_loop_free(loop);
	T_DONE();
}

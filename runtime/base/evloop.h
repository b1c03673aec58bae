/* evloop: one epoll loop that modules join.  A module owns a struct
 * ev_watch (a file descriptor, the events it waits for, a callback and its
 * argument) or a struct ev_timer, and registers it; the loop owns neither.
 * Single-threaded: callbacks run one at a time on the thread in
 * ev_loop_run, and may add, change or remove any watch, their own included. */
#ifndef EVLOOP_H
#define EVLOOP_H
#include <stdint.h>
#include <sys/epoll.h>

struct ev_loop;

/* A callback returns 0 to go on, a positive number to stop the loop
 * cleanly, or -errno to stop it with that error.  EVENTS are epoll's. */
typedef int ev_fn(void *arg, uint32_t events);

struct ev_watch {
	int fd;
	uint32_t events;	/* what epoll waits for (EPOLLIN, EPOLLOUT) */
	ev_fn *fn;
	void *arg;
};

struct ev_timer {
	struct ev_watch w;	/* its timerfd */
	ev_fn *fn;		/* called with EVENTS 0 */
	void *arg;
};

/* NULL on failure (errno set). */
struct ev_loop *ev_loop_new(void);
void ev_loop_free(struct ev_loop *loop);

/* Start watching W (fd, events, fn, arg filled): 0 or -errno. */
int ev_watch_add(struct ev_loop *loop, struct ev_watch *w);
/* Wait for EVENTS instead: 0 or -errno. */
int ev_watch_mod(struct ev_loop *loop, struct ev_watch *w, uint32_t events);
/* Stop watching W; an event already collected for it is not delivered.
 * Call it before closing W's fd (a closed fd leaves epoll on its own, but a
 * pending event would still name W). */
void ev_watch_del(struct ev_loop *loop, struct ev_watch *w);

/* Call FN(ARG, 0) FIRST_NS from now, then every INTERVAL_NS (0: once).
 * 0 or -errno. */
int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t first_ns, uint64_t interval_ns, ev_fn *fn,
		   void *arg);
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t);

/* Dispatch events until a callback asks to stop: 0 for a clean stop,
 * -errno for an error (a callback's or epoll's). */
int ev_loop_run(struct ev_loop *loop);

#endif

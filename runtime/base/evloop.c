/* evloop: epoll with the watch's address as the event's data, so dispatch
 * is one indirect call; timers are timerfds watched like any fd. */
#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EV_BATCH 16
#define NS_PER_SEC 1000000000ull

struct ev_loop {
	int ep;
	/* The batch being dispatched, so that ev_watch_del can drop events
	 * collected for a watch that is gone. */
	struct epoll_event evs[EV_BATCH];
	int next, n;
};

struct ev_loop *ev_loop_new(void)
{
	struct ev_loop *loop = calloc(1, sizeof *loop);
	if (!loop)
		return NULL;
	loop->ep = epoll_create1(EPOLL_CLOEXEC);
	if (loop->ep < 0)
		goto free_loop;
	return loop;
free_loop:
	free(loop);
	return NULL;
}

void ev_loop_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	close(loop->ep);
	free(loop);
}

int ev_watch_add(struct ev_loop *loop, struct ev_watch *w)
{
	struct epoll_event ev = { .events = w->events, .data.ptr = w };
	return epoll_ctl(loop->ep, EPOLL_CTL_ADD, w->fd, &ev) == 0 ? 0 : -errno;
}

int ev_watch_mod(struct ev_loop *loop, struct ev_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(loop->ep, EPOLL_CTL_MOD, w->fd, &ev) != 0)
		return -errno;
	w->events = events;
	return 0;
}

void ev_watch_del(struct ev_loop *loop, struct ev_watch *w)
{
	/* Nothing to do on failure: the fd may be closed (and so gone from
	 * the set) already. */
	(void)epoll_ctl(loop->ep, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = loop->next; i < loop->n; i++)
		if (loop->evs[i].data.ptr == w)
			loop->evs[i].data.ptr = NULL;
}

static int timer_fired(void *arg, uint32_t events)
{
	struct ev_timer *t = arg;
	uint64_t expirations;
	(void)events;
	if (read(t->w.fd, &expirations, sizeof expirations) <= 0)
		return 0;
	return t->fn(t->arg, 0);
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC) };
}

int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t first_ns, uint64_t interval_ns, ev_fn *fn,
		   void *arg)
{
	/* A zero it_value would disarm the timer: fire after 1 ns instead. */
	struct itimerspec its = { .it_value = ts_of(first_ns ? first_ns : 1), .it_interval = ts_of(interval_ns) };
	int rc;
	t->fn = fn;
	t->arg = arg;
	t->w = (struct ev_watch){ .events = EPOLLIN, .fn = timer_fired, .arg = t };
	t->w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->w.fd < 0)
		return -errno;
	if (timerfd_settime(t->w.fd, 0, &its, NULL) != 0) {
		rc = -errno;
		goto close_fd;
	}
	rc = ev_watch_add(loop, &t->w);
	if (rc)
		goto close_fd;
	return 0;
close_fd:
	close(t->w.fd);
	t->w.fd = -1;
	return rc;
}

void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
	if (t->w.fd < 0)
		return;
	ev_watch_del(loop, &t->w);
	close(t->w.fd);
	t->w.fd = -1;
}

int ev_loop_run(struct ev_loop *loop)
{
	int rc = 0;
	while (rc == 0) {
		int n = epoll_wait(loop->ep, loop->evs, EV_BATCH, -1);
		if (n < 0) {
			if (errno != EINTR)
				rc = -errno;
			continue;
		}
		loop->n = n;
		for (loop->next = 0; loop->next < loop->n && rc == 0;) {
			struct epoll_event *ev = &loop->evs[loop->next++];
			struct ev_watch *w = ev->data.ptr;
			if (w)
				rc = w->fn(w->arg, ev->events);
		}
		loop->n = loop->next = 0;
	}
	return rc > 0 ? 0 : rc;
}

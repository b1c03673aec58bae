/* evloop: fds and timers dispatched to their callbacks; a callback's
 * positive return stops the loop cleanly and a negative one with its error;
 * a watch removed by an earlier callback of the same batch is not called. */
#include <errno.h>
#include <unistd.h>

#include "evloop.h"
#include "t.h"

struct probe {
	struct ev_watch w;
	int calls;
	int ret;		/* what the callback returns */
	struct ev_loop *loop;
	struct probe *victim;	/* removed by this probe's callback */
};

static int on_ready(void *arg, uint32_t events)
{
	struct probe *p = arg;
	char c;
	(void)events;
	p->calls++;
	if (read(p->w.fd, &c, 1) != 1)
		return -EIO;
	if (p->victim)
		ev_watch_del(p->loop, &p->victim->w);
	return p->ret;
}

static int on_timer(void *arg, uint32_t events)
{
	int *fired = arg;
	(void)events;
	return ++*fired == 3 ? 1 : 0;
}

int main(void)
{
	struct ev_loop *loop = ev_loop_new();
	int a[2], b[2];
	if (!loop || pipe(a) != 0 || pipe(b) != 0) {
		T_CHECK(0, "set up a loop and two pipes");
		T_DONE();
	}
	/* Both pipes readable in one batch: whichever runs first removes the
	 * other, so exactly one callback runs; a one-shot timer stops the loop. */
	struct probe pa = { .w = { .fd = a[0], .events = EPOLLIN, .fn = on_ready }, .loop = loop };
	struct probe pb = { .w = { .fd = b[0], .events = EPOLLIN, .fn = on_ready }, .loop = loop };
	struct ev_timer stop;
	int stop_fired = 2;	/* on_timer returns 1 at its third call */
	pa.w.arg = &pa;
	pb.w.arg = &pb;
	pa.victim = &pb;
	pb.victim = &pa;
	T_CHECK(ev_watch_add(loop, &pa.w) == 0 && ev_watch_add(loop, &pb.w) == 0, "two pipes watched");
	T_CHECK(write(a[1], "x", 1) == 1 && write(b[1], "y", 1) == 1, "both pipes written");
	T_CHECK(ev_timer_start(loop, &stop, 20000000, 0, on_timer, &stop_fired) == 0, "a one-shot timer in 20 ms");
	int rc = ev_loop_run(loop);
	ev_timer_stop(loop, &stop);
	T_CHECK(rc == 0 && pa.calls + pb.calls == 1 && stop_fired == 3,
		"a watch removed earlier in the batch is not called (%d and %d calls), the loop stopped cleanly (%d)",
		pa.calls, pb.calls, rc);
	ev_watch_del(loop, &pa.w);
	ev_watch_del(loop, &pb.w);

	/* A negative return is the loop's result. */
	pa = (struct probe){ .w = { .fd = a[0], .events = EPOLLIN, .fn = on_ready, .arg = &pa }, .ret = -EPROTO };
	T_CHECK(ev_watch_add(loop, &pa.w) == 0 && write(a[1], "z", 1) == 1 && ev_loop_run(loop) == -EPROTO &&
		pa.calls == 1, "a callback's -errno stops the loop with that error");
	ev_watch_del(loop, &pa.w);

	/* A periodic timer fires until its callback says stop. */
	struct ev_timer t;
	int fired = 0;
	T_CHECK(ev_timer_start(loop, &t, 0, 1000000, on_timer, &fired) == 0 && ev_loop_run(loop) == 0 && fired == 3,
		"a 1 ms timer fired 3 times (%d), the third stopped the loop", fired);
	ev_timer_stop(loop, &t);
	T_CHECK(t.w.fd == -1, "a stopped timer holds no fd");
	ev_timer_stop(loop, &t);	/* twice: harmless */
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	ev_loop_free(loop);
	T_DONE();
}

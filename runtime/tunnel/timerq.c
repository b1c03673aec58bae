/* timerq: the heap keeps heap[i]->pos == i + 1 for every entry. */
#include "timerq.h"

#include <errno.h>
#include <stdlib.h>

int timerq_reserve(struct timerq *q, size_t n)
{
	if (n <= q->cap)
		return 0;
	size_t ncap = q->cap ? q->cap : 16;
	while (ncap < n)
		ncap *= 2;
	struct timerq_entry **h = realloc(q->heap, ncap * sizeof *h);
	if (!h)
		return -ENOMEM;
	q->heap = h;
	q->cap = ncap;
	return 0;
}

void timerq_free(struct timerq *q)
{
	free(q->heap);
	*q = (struct timerq){ 0 };
}

static void place(struct timerq *q, size_t i, struct timerq_entry *e)
{
	q->heap[i] = e;
	e->pos = i + 1;
}

/* Move the entry at I up or down until the heap holds again. */
static void sift(struct timerq *q, size_t i)
{
	struct timerq_entry *e = q->heap[i];
	while (i > 0 && q->heap[(i - 1) / 2]->deadline > e->deadline) {
		place(q, i, q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && q->heap[c + 1]->deadline < q->heap[c]->deadline)
			c++;
		if (q->heap[c]->deadline >= e->deadline)
			break;
		place(q, i, q->heap[c]);
		i = c;
	}
	place(q, i, e);
}

static void take_out(struct timerq *q, struct timerq_entry *e)
{
	size_t i = e->pos - 1;
	e->pos = 0;
	struct timerq_entry *last = q->heap[--q->n];
	if (last == e)
		return;
	place(q, i, last);
	sift(q, i);
}

int timerq_set(struct timerq *q, struct timerq_entry *e, uint64_t deadline)
{
	if (deadline == TIMERQ_NEVER) {
		if (e->pos)
			take_out(q, e);
		return 0;
	}
	e->deadline = deadline;
	if (!e->pos) {
		if (q->n == q->cap)
			return -ENOSPC;
		place(q, q->n++, e);
	}
	sift(q, e->pos - 1);
	return 0;
}

struct timerq_entry *timerq_first(const struct timerq *q)
{
	return q->n ? q->heap[0] : NULL;
}

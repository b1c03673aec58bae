/* timerq: a queue of deadlines, a binary min-heap whose entries live in
 * their owners (a peer embeds one), so finding what is due costs O(1) and
 * moving a deadline O(log n), whatever the number of entries.  Room is
 * reserved ahead (timerq_reserve when an owner is created), so changing a
 * deadline on the packet path never allocates. */
#ifndef TIMERQ_H
#define TIMERQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMERQ_NEVER UINT64_MAX

struct timerq_entry {
	uint64_t deadline;	/* valid while queued */
	size_t pos;		/* index in the heap plus one; 0: not queued */
};

struct timerq {
	struct timerq_entry **heap;
	size_t n, cap;
};

/* Room for N entries: 0 or -ENOMEM. */
int timerq_reserve(struct timerq *q, size_t n);
void timerq_free(struct timerq *q);
static inline bool timerq_queued(const struct timerq_entry *e)
{
	return e->pos != 0;
}
/* Queue E at DEADLINE, or move it there; TIMERQ_NEVER takes it out.  A new
 * entry needs reserved room (else it is not queued: -ENOSPC).  0 or -ENOSPC. */
int timerq_set(struct timerq *q, struct timerq_entry *e, uint64_t deadline);
/* The entry with the earliest deadline, or NULL. */
struct timerq_entry *timerq_first(const struct timerq *q);

#endif

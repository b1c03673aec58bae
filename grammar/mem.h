/* mem: room in growing arrays, one way for every module.  An array is a
 * pointer, a count and a capacity; mem_reserve makes the capacity at least
 * NEED, doubling from 8 so that appending is amortised constant time, and
 * refuses sizes whose byte count would overflow. */
#ifndef MEM_H
#define MEM_H
#include <stddef.h>

/* Room for NEED elements of SIZE bytes in *V (*CAP of them now): 0, or
 * -ENOMEM with *V and *CAP unchanged. */
int mem_reserve(void **v, size_t *cap, size_t need, size_t size);

/* The same for a typed array ARR with capacity field CAP. */
#define MEM_RESERVE(arr, cap, need) mem_reserve((void **)&(arr), &(cap), (need), sizeof(*(arr)))

#endif

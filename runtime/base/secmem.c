/* secmem: one pool per object size (rounded up to 64 bytes), each a free
 * list threaded through wiped objects, refilled a chunk at a time.  Large
 * objects, and sizes once the table is full, get a mapping of their own.
 * The daemons keep a handful of sizes (the device, a peer, a control
 * connection, the agent), so a short table is enough. */
#include "secmem.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SECMEM_ALIGN   64
#define SECMEM_POOLS   16
#define SECMEM_MAX_OBJ (64u << 10)	/* larger: a mapping of its own */
#define SECMEM_CHUNK   (256u << 10)

/* Under AddressSanitizer, free objects are poisoned so that a use after
 * free is still caught in memory the sanitizer does not allocate. */
#if defined(__SANITIZE_ADDRESS__)
#define SECMEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECMEM_ASAN 1
#endif
#endif
#ifdef SECMEM_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define poison(p, n)   ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

struct free_obj {
	struct free_obj *next;
};

struct pool {
	size_t size;		/* 0: an unused slot */
	struct free_obj *free;
};

static struct pool pools[SECMEM_POOLS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* LEN bytes of fresh anonymous memory, excluded from core dumps. */
static void *map_secret(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_DONTDUMP) != 0) {
		int e = errno;
		munmap(p, len);
		errno = e;
		return NULL;
	}
	return p;
}

/* The pool of SIZE, made when CREATE and a slot is free; NULL: none.
 * Slots are never given back, so a size without one at allocation has
 * none when freed either. */
static struct pool *pool_for(size_t size, bool create)
{
	for (int i = 0; i < SECMEM_POOLS; i++) {
		if (pools[i].size == size)
			return &pools[i];
		if (!pools[i].size && create) {
			pools[i].size = size;
			return &pools[i];
		}
	}
	return NULL;
}

/* A new chunk cut into free objects of POOL's size: 0 or -errno. */
static int pool_grow(struct pool *pool)
{
	size_t n = SECMEM_CHUNK / pool->size;
	uint8_t *chunk = map_secret(n * pool->size);
	if (!chunk)
		return -errno;
	for (size_t i = n; i-- > 0;) {
		struct free_obj *o = (struct free_obj *)(chunk + i * pool->size);
		o->next = pool->free;
		pool->free = o;
		poison(o, pool->size);
	}
	return 0;
}

/* A mapping of its own for an object of SZ bytes (fresh pages are zero). */
static size_t own_len(size_t sz)
{
	return round_up(sz, (size_t)sysconf(_SC_PAGESIZE));
}

void *secmem_alloc(size_t size)
{
	size_t sz = round_up(size ? size : 1, SECMEM_ALIGN);
	void *p = NULL;
	int rc = 0;
	pthread_mutex_lock(&lock);
	struct pool *pool = sz <= SECMEM_MAX_OBJ ? pool_for(sz, true) : NULL;
	if (pool && (pool->free || (rc = pool_grow(pool)) == 0)) {
		struct free_obj *o = pool->free;
		unpoison(o, sz);
		pool->free = o->next;
		memset(o, 0, sz);
		p = o;
	}
	pthread_mutex_unlock(&lock);
	if (!pool)
		return map_secret(own_len(sz));
	if (!p)
		errno = -rc;
	return p;
}

void secmem_free(void *p, size_t size)
{
	if (!p)
		return;
	size_t sz = round_up(size ? size : 1, SECMEM_ALIGN);
	explicit_bzero(p, sz);
	pthread_mutex_lock(&lock);
	struct pool *pool = sz <= SECMEM_MAX_OBJ ? pool_for(sz, false) : NULL;
	if (pool) {
		struct free_obj *o = p;
		o->next = pool->free;
		pool->free = o;
		poison(o, sz);
	}
	pthread_mutex_unlock(&lock);
	if (!pool)
		munmap(p, own_len(sz));
}

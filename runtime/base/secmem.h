/* secmem: memory for structures that hold keys, kept out of core dumps.
 * Objects come from chunks mapped with mmap(2) and marked MADV_DONTDUMP,
 * so a core file (or gcore) of a daemon carries none of its private or
 * session keys; freed objects are wiped and reused, never handed to the
 * C library.  Thread-safe. */
#ifndef SECMEM_H
#define SECMEM_H
#include <stddef.h>

/* SIZE zeroed bytes, aligned for any type; NULL with errno on failure. */
void *secmem_alloc(size_t size);
/* Wipe and release P (from secmem_alloc with the same SIZE); NULL is a no-op. */
void secmem_free(void *p, size_t size);

#endif

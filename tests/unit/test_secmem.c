/* secmem: zeroed objects in mappings marked for no core dump (smaps' "dd"),
 * wiped and reused when freed, large objects mapped and unmapped alone. */
#include "t.h"

#include "secmem.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether ADDR lies in a mapping whose VmFlags carry "dd". */
static bool in_dontdump(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	uintptr_t a = (uintptr_t)addr, lo = 0, hi = 0;
	bool found = false, dd = false;
	while (f && !found && fgets(line, sizeof line, f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			lo = s, hi = e;
		} else if (!strncmp(line, "VmFlags:", 8) && a >= lo && a < hi) {
			found = true;
			dd = strstr(line, " dd") != NULL;
		}
	}
	if (f)
		fclose(f);
	return dd;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int main(void)
{
	static const size_t sizes[] = { 1, 32, 100, 1500, 9000 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i];
		unsigned char *p = secmem_alloc(n);
		T_CHECK(p && all_zero(p, n) && (uintptr_t)p % 64 == 0, "%zu bytes: zeroed, 64-byte aligned", n);
		T_CHECK(p && in_dontdump(p), "%zu bytes: in a mapping excluded from core dumps", n);
		memset(p, 0xa5, n);
		secmem_free(p, n);
		unsigned char *q = secmem_alloc(n);
		T_CHECK(q == p && all_zero(q, n), "%zu bytes: a freed object is reused, zeroed again", n);
		secmem_free(q, n);
	}
	/* Many of one size: more than a chunk, every one distinct. */
	enum { MANY = 1000 };
	static unsigned char *many[MANY];
	bool ok = true;
	for (int i = 0; i < MANY; i++) {
		many[i] = secmem_alloc(1500);
		ok = ok && many[i] && all_zero(many[i], 1500);
		if (many[i])
			memset(many[i], i & 0xff, 1500);
	}
	for (int i = 0; i < MANY && ok; i++)
		ok = many[i][0] == (i & 0xff) && many[i][1499] == (i & 0xff) && in_dontdump(many[i]);
	T_CHECK(ok, "%d objects of 1500 bytes (several chunks): zeroed, distinct, excluded from dumps", MANY);
	for (int i = 0; i < MANY; i++)
		secmem_free(many[i], 1500);
	unsigned char *big = secmem_alloc(200000);
	T_CHECK(big && all_zero(big, 200000) && in_dontdump(big), "200000 bytes: a mapping of its own, zeroed, dd");
	secmem_free(big, 200000);
	secmem_free(NULL, 10);
	T_CHECK(true, "secmem_free(NULL) does nothing");
	T_DONE();
}

/* apply_hooks: `aclc apply` with the netlink backend's test hooks, which
 * aclc itself never sets.
 *
 *   apply_hooks [--race CMD] [--fault PREFIX:N] apply POLICY ARGS...
 *
 * --race CMD runs the shell command CMD once, between reading the kernel's
 * table and sending the first batch: a concurrent change.  To our table,
 * the apply must read again and retry; to another, what was read holds.
 * --fault PREFIX:N sends the N-th element added (from 0) to each set whose
 * name starts with PREFIX with its first field's range inverted (its end
 * one below its start), which the kernel rejects: the error must be
 * reported at the policy rule behind the element.
 * The exit status and output are aclc apply's. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_apply.h"
#include "nftb.h"
#include "nftm.h"

struct hooks {
	const char *race_cmd;
	bool raced;
	char fault_prefix[NFTM_NAME_MAX];
	size_t fault_index;
	bool fault;
};

static void race(void *arg, unsigned attempt)
{
	struct hooks *h = arg;
	if (attempt != 0 || !h->race_cmd || h->raced)
		return;
	h->raced = true;
	if (system(h->race_cmd) != 0)
		fprintf(stderr, "apply_hooks: the race command failed: %s\n", h->race_cmd);
}

/* KEY - 1 into END over the first field's W bytes (big-endian). */
static void below(const uint8_t *key, uint8_t *end, size_t w)
{
	memcpy(end, key, w);
	for (size_t i = w; i-- > 0;)
		if (end[i]-- != 0)
			return;
}

static void invert(void *arg, const struct nftm_set *s, size_t index, uint8_t *key, uint8_t *end, bool *has_end)
{
	struct hooks *h = arg;
	if (!h->fault || index != h->fault_index ||
	    strncmp(s->name, h->fault_prefix, strlen(h->fault_prefix)) != 0)
		return;
	below(key, end, nftm_field_width(s->key[0]));
	*has_end = true;
}

/* PREFIX:N into H.  0 or -1. */
static int parse_fault(struct hooks *h, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char *endp;
	if (!colon || (size_t)(colon - arg) >= sizeof(h->fault_prefix))
		return -1;
	memcpy(h->fault_prefix, arg, (size_t)(colon - arg));
	h->fault_index = strtoul(colon + 1, &endp, 10);
	h->fault = endp != colon + 1 && *endp == 0;
	return h->fault ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct hooks h = { 0 };
	struct nftb_test_hooks hooks = { race, invert, &h };
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--race") == 0)
			h.race_cmd = argv[i + 1];
		else if (strcmp(argv[i], "--fault") != 0 || parse_fault(&h, argv[i + 1]) < 0)
			goto usage;
	}
	if (i >= argc || strcmp(argv[i], "apply") != 0)
		goto usage;
	return cli_apply_hooked(argc - i, argv + i, &hooks);
usage:
	fprintf(stderr, "usage: apply_hooks [--race CMD] [--fault PREFIX:N] apply POLICY ARGS...\n");
	return 2;
}

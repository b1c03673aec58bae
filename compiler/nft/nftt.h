/* nftt: the nftables text backend.  Prints a model (nftm) as a file for
 * `nft -f`: numeric literals only, one table replaced as a whole in one
 * transaction, nothing outside it touched. */
#ifndef NFTT_H
#define NFTT_H
#include <stdio.h>

#include "nftm.h"

/* What the header comment says about where the ruleset came from. */
struct nftt_origin {
	const char *policy;   /* the policy file as named by the user, or NULL */
	const char *node;     /* the node's name, or NULL */
};

/* Write T to OUT.  0 or -errno. */
int nftt_write(FILE *out, const struct nftm_table *t, const struct nftt_origin *origin);

/* For outf_write(): JOB is a struct nftt_job. */
struct nftt_job {
	const struct nftm_table *table;
	struct nftt_origin origin;
};
int nftt_write_job(FILE *out, void *job);

/* Format one range of field F into BUF (at least NFTT_RANGE_MAX bytes):
 * an address, prefix or lo-hi range; a number or lo-hi. */
#define NFTT_RANGE_MAX 96
void nftt_range(char *buf, enum nftm_field f, const struct nftm_range *r);

#endif

/* privdrop: after the privileged setup, become an unprivileged user that
 * keeps only the capabilities the daemon still needs (CAP_NET_ADMIN for
 * fwmark, routes and nftables; CAP_NET_BIND_SERVICE for a listen port
 * below 1024 set later through the API), forbid gaining new ones, and
 * keep the process out of core dumps. */
#ifndef PRIVDROP_H
#define PRIVDROP_H
#include <sys/types.h>

struct privdrop_user {
	uid_t uid;
	gid_t gid;
};

/* NAME's uid and primary gid: 0, -ENOENT (no such user) or -errno. */
int privdrop_lookup(const char *name, struct privdrop_user *u);

enum {
	PRIVDROP_FILES = 1,	/* also the regular files in it that root owns */
	PRIVDROP_PRIVATE = 2,	/* make it 0700 first (a directory of ours) */
};
/* Make DIR (not a symbolic link, no access for group or others) U's, and
 * with PRIVDROP_FILES the root-owned files in it: so that a state
 * directory written while keygated ran as root stays usable after the
 * drop.  0, -EPERM (group or others may enter DIR) or -errno. */
int privdrop_give_dir(const char *dir, const struct privdrop_user *u, unsigned flags);

/* Drop to U (NULL: stay uid 0 without capabilities but the kept ones):
 * no supplementary groups, the kept capabilities permitted, effective,
 * inheritable and ambient (U only) and nothing else, even in the bounding
 * set, the securebits locked, no new privileges, not dumpable.  Every
 * step is checked and the result read back.  0 or -errno; the caller
 * must not go on after a failure. */
int privdrop_to(const struct privdrop_user *u);

#endif

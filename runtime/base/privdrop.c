/* privdrop: the order matters.  The bounding set is emptied first (that
 * needs CAP_SETPCAP); SECBIT_NO_SETUID_FIXUP keeps every capability across
 * the change of ids, so CAP_SETPCAP is still there to lock the securebits
 * after the ambient set is raised; the last capset(2) then leaves only the
 * kept ones. */
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEEP ((1u << CAP_NET_ADMIN) | (1u << CAP_NET_BIND_SERVICE))
#define CAP_PROBE_MAX 64	/* the kernel may know more than these headers */

int privdrop_lookup(const char *name, struct privdrop_user *u)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(name, &pw, buf, sizeof buf, &res);
	if (rc)
		return -rc;
	if (!res)
		return -ENOENT;
	*u = (struct privdrop_user){ .uid = pw.pw_uid, .gid = pw.pw_gid };
	return 0;
}

/* Give the root-owned regular files directly in DFD to U. */
static int give_files(int dfd, const struct privdrop_user *u)
{
	int fd = dup(dfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	int rc = 0;
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	struct dirent *e;
	struct stat st;
	while (rc == 0 && (e = readdir(d))) {
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* One link only: never a hard link to a file elsewhere. */
		if (!S_ISREG(st.st_mode) || st.st_uid != 0 || st.st_nlink != 1)
			continue;
		if (fchownat(dfd, e->d_name, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

int privdrop_give_dir(const char *dir, const struct privdrop_user *u, unsigned flags)
{
	struct stat st;
	int rc = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (((flags & PRIVDROP_PRIVATE) && fchmod(dfd, 0700) < 0) || fstat(dfd, &st) < 0)
		rc = -errno;
	else if (st.st_mode & 077)
		rc = -EPERM;	/* others may enter: not a private directory */
	else if ((st.st_uid != u->uid || st.st_gid != u->gid) && fchown(dfd, u->uid, u->gid) < 0)
		rc = -errno;
	if (rc == 0 && (flags & PRIVDROP_FILES))
		rc = give_files(dfd, u);
	close(dfd);
	return rc;
}

static int capget_now(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	return syscall(SYS_capget, &hdr, data) == 0 ? 0 : -errno;
}

/* Permitted and effective PERM, inheritable INH (the low 32 capabilities;
 * the upper ones none, unless KEEP_UPPER keeps what is there). */
static int capset_to(uint32_t perm, uint32_t inh, bool keep_upper)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	int rc = keep_upper ? capget_now(data) : 0;
	if (rc)
		return rc;
	data[1].inheritable = 0;
	data[0] = (struct __user_cap_data_struct){ .effective = perm, .permitted = perm, .inheritable = inh };
	return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -errno;
}

static int drop_bounding(void)
{
	for (int cap = 0; cap < CAP_PROBE_MAX; cap++) {
		if (cap < 32 && (KEEP & (1u << cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno == EINVAL && cap > CAP_BLOCK_SUSPEND)
				return 0;	/* past the kernel's last */
			return -errno;
		}
	}
	return 0;
}

/* U's ids, all three of each, and no supplementary groups. */
static int change_ids(const struct privdrop_user *u)
{
	if (setgroups(0, NULL) != 0 || setresgid(u->gid, u->gid, u->gid) != 0 ||
	    setresuid(u->uid, u->uid, u->uid) != 0)
		return -errno;
	return 0;
}

/* The kept capabilities ambient (they must be inheritable first), while
 * every other is still permitted. */
static int raise_ambient(void)
{
	struct __user_cap_data_struct cur[2];
	int rc = capget_now(cur);
	if (rc == 0)
		rc = capset_to(cur[0].permitted, KEEP, true);
	if (rc)
		return rc;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
		return -errno;
	for (int cap = 0; cap < 32; cap++)
		if ((KEEP & (1u << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
			return -errno;
	return 0;
}

/* Trust but verify: the ids, the groups, exactly the kept capabilities
 * (ambient with a user; bounding too), no new privileges, not dumpable. */
static int verify(const struct privdrop_user *u)
{
	struct __user_cap_data_struct got[2];
	uid_t r, e, s;
	gid_t rg, eg, sg;
	int rc = capget_now(got);
	if (rc)
		return rc;
	uint32_t inh = u ? KEEP : 0;
	if (got[0].effective != KEEP || got[0].permitted != KEEP || got[0].inheritable != inh || got[1].effective ||
	    got[1].permitted || got[1].inheritable)
		return -EPERM;
	for (int cap = 0; cap < CAP_PROBE_MAX; cap++) {
		bool kept = cap < 32 && (KEEP & (1u << cap));
		int amb = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
		int bnd = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (amb < 0 || bnd < 0)
			break;	/* past the kernel's last */
		if (amb != (u && kept) || bnd != kept)
			return -EPERM;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -EPERM;
	if (!u)
		return 0;
	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return -errno;
	if (r != u->uid || e != u->uid || s != u->uid || rg != u->gid || eg != u->gid || sg != u->gid ||
	    getgroups(0, NULL) != 0)
		return -EPERM;
	return 0;
}

int privdrop_to(const struct privdrop_user *u)
{
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	int rc = drop_bounding();
	if (rc)
		return rc;
	if (u) {
		if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) != 0)
			return -errno;
		if ((rc = change_ids(u)) || (rc = raise_ambient()))
			return rc;
	} else if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
		return -errno;
	}
	/* uid 0 confers nothing to execve(2) and nothing changes that. */
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	if ((rc = capset_to(KEEP, u ? KEEP : 0, false)))
		return rc;
	/* No core dumps, no ptrace by the user: the keys stay in. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -errno;
	return verify(u);
}

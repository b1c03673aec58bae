/* privdrop: empty the bounding set but for the kept capabilities, lock the
 * securebits so uid 0 means nothing to execve(2), forbid new privileges,
 * capset(2) to the kept ones and read them back.  Every step is checked. */
#include "privdrop.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEEP ((1u << CAP_NET_ADMIN) | (1u << CAP_NET_BIND_SERVICE))

int privdrop_keep_net(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	/* The kernel may know more capabilities than these headers: go on
	 * until it says there are no more (EINVAL past its last one). */
	for (int cap = 0; cap < 64; cap++) {
		if (cap < 32 && (KEEP & (1u << cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno == EINVAL && cap > CAP_BLOCK_SUSPEND)
				break;
			return -errno;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return -errno;
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	data[0].effective = data[0].permitted = KEEP;
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -errno;
	/* Trust but verify: exactly the kept ones remain. */
	struct __user_cap_data_struct got[2] = { { 0 } };
	if (syscall(SYS_capget, &hdr, got) != 0)
		return -errno;
	if (got[0].effective != KEEP || got[0].permitted != KEEP || got[0].inheritable || got[1].effective ||
	    got[1].permitted || got[1].inheritable)
		return -EPERM;
	return 0;
}

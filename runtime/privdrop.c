/* privdrop: capset(2) to CAP_NET_ADMIN + CAP_NET_BIND_SERVICE, no_new_privs. */
#include "privdrop.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int privdrop_keep_net(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	uint32_t keep = (1u << CAP_NET_ADMIN) | (1u << CAP_NET_BIND_SERVICE);
	data[0].effective = data[0].permitted = keep;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(cap < 32 && (keep & (1u << cap))))
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -errno;
	return 0;
}

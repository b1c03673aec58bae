/* privdrop: after the privileged setup, keep only the capabilities the
 * daemon still needs (CAP_NET_ADMIN for fwmark, CAP_NET_BIND_SERVICE for
 * low listen ports) and forbid gaining new ones. */
#ifndef PRIVDROP_H
#define PRIVDROP_H

/* 0 or -errno; the caller must not go on after a failure.  The process
 * stays uid 0 (see keygated(8) SECURITY for why and what that leaves). */
int privdrop_keep_net(void);

#endif

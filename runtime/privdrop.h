/* privdrop: after the privileged setup, keep only the capabilities the
 * daemon still needs (CAP_NET_ADMIN for fwmark, CAP_NET_BIND_SERVICE for
 * low listen ports) and forbid gaining new ones. */
#ifndef PRIVDROP_H
#define PRIVDROP_H

/* 0 or -errno. */
int privdrop_keep_net(void);

#endif

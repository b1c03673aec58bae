/* coord_static: stock WireGuard devices (the official apps, wg-quick).
 * Such a device is a node like any other (registered with a single-use
 * auth key the coordinator makes and consumes at once, a random machine
 * key nobody holds the private half of), but it never connects: what it
 * needs is a wg-quick configuration made from its netmap, handed out by
 * `keygate nodes add-static` and `keygate nodes config`.  Its private key
 * is made by the keygate command and never reaches the coordinator: the
 * configuration carries COORD_STATIC_KEY_LINE where it goes.  The hash of
 * the configuration last handed out is kept (setting "static:ID"), so
 * that the node list can say when a policy change needs a new one. */
#ifndef COORD_STATIC_H
#define COORD_STATIC_H
#include <stdint.h>

#include "ctl_netmap.h"

#define COORD_STATIC_KEY_LINE "PrivateKey = @PRIVATE-KEY@"

/* The wg-quick text for netmap M: [Interface] with the key line and its
 * addresses, one [Peer] per peer with an endpoint (its key, one endpoint,
 * AllowedIPs exactly the peer's allowed IPs in M: its tunnel addresses and
 * the routes M's policy lets this device use through it).  NULL when out
 * of memory. */
char *coord_static_config(const struct ctl_netmap *m);
/* The hash of CONFIG, as 64 hex digits. */
void coord_static_hash(const char *config, char out[65]);
/* The setting that keeps node ID's handed-out hash. */
void coord_static_setting(int64_t id, char out[32]);

#endif

/* tun: the Linux TUN device (layer 3, no packet information header). */
#ifndef TUN_H
#define TUN_H
#include <stddef.h>

/* Creates (or attaches to) TUN device NAME, sets MTU and brings nothing up
 * (wg-quick or the administrator does).  Returns a non-blocking fd or -errno;
 * ERR gets a message. */
int tun_open(const char *name, int mtu, char *err, size_t errlen);

#endif

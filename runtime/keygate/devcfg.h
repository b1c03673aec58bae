/* devcfg: the private key of a stock WireGuard device and the wg-quick
 * configuration it goes into.  `keygate nodes add-static` makes the key
 * pair here and sends only the public key to the coordinator, which
 * answers with the configuration carrying DEVCFG_KEY_LINE where the
 * private key goes (keygate-coord(8), nodes.add_static): the private key
 * exists only in this process, and on the administrator's screen or in
 * the file they keep.  `keygate nodes config` fills the line from a file
 * (--key) or leaves a comment in its place. */
#ifndef DEVCFG_H
#define DEVCFG_H
#include <stdbool.h>

#define DEVCFG_KEY_LINE "PrivateKey = @PRIVATE-KEY@"

/* Make a key pair; PUB gets the public key in base64.  0 or -errno. */
int devcfg_new_key(char pub[45]);
/* Use the private key in PATH (as `keygate genkey` writes it).  0 or -errno. */
int devcfg_load_key(const char *path);
/* Print a QR code of the configuration too (qrencode). */
void devcfg_want_qr(void);
/* Print CONFIG with the private key in place.  0, or -1 after a message
 * (qrencode asked for but missing or failing). */
int devcfg_print(const char *config);
/* Wipe the key. */
void devcfg_wipe(void);

#endif

/* tai64n: TAI64N labels (12 bytes: 8 bytes big-endian 2^62 + 10 + Unix
 * seconds, 4 bytes big-endian nanoseconds), the handshake timestamps of
 * WireGuard and of the control protocol.  Big-endian, so comparing two
 * labels with memcmp compares the times. */
#ifndef TAI64N_H
#define TAI64N_H
#include <stdint.h>

#define TAI64N_LEN 12

/* The current wall-clock label, nanoseconds rounded down to 2^24 ns like
 * wireguard-go, so the label leaks less timing. */
void tai64n_now(uint8_t out[TAI64N_LEN]);
/* The label of UNIX_SEC seconds and NSEC nanoseconds, exactly. */
void tai64n_at(uint8_t out[TAI64N_LEN], uint64_t unix_sec, uint32_t nsec);

#endif

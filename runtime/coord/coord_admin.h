/* coord_admin: the admin socket's requests and answers (keygate-coord(8),
 * ADMIN PROTOCOL).  One JSON object a line each way:
 *   request:  {"cmd": "users.add", ...arguments...}
 *   answer:   {"ok": true, ...results...}
 *             {"ok": false, "error": "a sentence", "details": "more lines"}
 * A refusal changes nothing. */
#ifndef COORD_ADMIN_H
#define COORD_ADMIN_H
#include <stddef.h>

#include "coord_srv.h"

/* Answer the request REQ (LEN bytes, NUL-terminated): the answer line,
 * newline included (*OUTLEN bytes), for the caller to free; NULL when out
 * of memory. */
char *coord_admin_handle(struct coord_srv *srv, const char *req, size_t len, size_t *outlen);

#endif

/* polname: text that names something (a group, tag, host, user, address,
 * key) must hold no control character: a NUL would make "group:eng\u0000"
 * a second key to the reader but the same name to C strings, and a newline
 * could inject text into anything a name is written to.  Control
 * characters are U+0000-U+001F, U+007F and U+0080-U+009F. */
#ifndef POLNAME_H
#define POLNAME_H
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "hj.h"

/* The offset of the first control character in S[0..LEN), or LEN. */
size_t polname_bad_at(const char *s, size_t len);
/* Is string node AT free of control characters?  Else an error at AT
 * naming the character, and false. */
bool polname_check(const struct hj_value *at, struct diag_list *diags);
/* Check every object key of the tree at V; the number of errors. */
size_t polname_check_keys(const struct hj_value *v, struct diag_list *diags);

#endif

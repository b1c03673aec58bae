/* polkey: the policy's top-level keys as Tailscale reads them.  Tailscale
 * decodes the file with Go's JSON decoder, which matches a key to a section
 * ignoring case ("ACLs", "tagowners" and "TagOwners" are all sections), the
 * exact spelling first.  Two keys naming the same section are an error
 * here (the decoder would keep one of them silently); the first is read. */
#ifndef POLKEY_H
#define POLKEY_H
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "hj.h"

/* The canonical name ("tagOwners") of the section KEY names, or NULL when
 * KEY (a string node) names none. */
const char *polkey_section(const struct hj_value *key);
/* The value of section NAME (canonical) in ROOT (the first key naming
 * it), or NULL. */
const struct hj_value *polkey_get(const struct hj_value *root, const char *name);
/* Is member I of object ROOT the first key naming its section (or a key
 * naming none)? */
bool polkey_first(const struct hj_value *root, size_t i);
/* Fields inside a section (an ACL's "action", a test's "src") are struct
 * fields to Go's decoder too, matched ignoring case: the canonical name
 * among NAMES[0..N) that KEY spells, or KEY's own text. */
const char *polkey_field(const struct hj_value *key, const char *const *names, size_t n);
/* Report every key of ROOT naming a section an earlier key names; the
 * number reported. */
size_t polkey_duplicates(const struct hj_value *root, struct diag_list *diags);

#endif

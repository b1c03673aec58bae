/* outf: write an output file whole or not at all.  The text goes to a
 * temporary file in the same directory, which is flushed, synced and renamed
 * over PATH only when complete: PATH holds the old contents or the new,
 * never a truncated file (a ruleset cut short is a different ruleset). */
#ifndef OUTF_H
#define OUTF_H
#include <stdbool.h>
#include <stdio.h>

/* Call WRITE(f, ARG) on a temporary file and rename it to PATH ("-":
 * WRITE on standard output).  WRITE returns 0 or -errno.  A new file gets
 * 0666 less the umask, as open(2) would give it; a replaced file keeps its
 * mode.  0 or -errno; on error PATH is untouched.  A PATH that is a
 * symbolic link has the file it names replaced; one that is not a regular
 * file (/dev/null, a FIFO) is written in place, as it cannot be replaced. */
int outf_write(const char *path, int (*write)(FILE *f, void *arg), void *arg);

#endif

/* outf: whole-or-nothing output files. */
#include "outf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int outf_write(const char *path, int (*write)(FILE *f, void *arg), void *arg)
{
	if (strcmp(path, "-") == 0) {
		int rc = write(stdout, arg);
		if (fflush(stdout) != 0 && rc == 0)
			rc = -errno;
		return rc;
	}
	char *tmp = NULL;
	FILE *f = NULL;
	int fd, rc = 0;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	/* mkstemp makes 0600; an output file is no secret. */
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		close(fd);
		goto out_unlink;
	}
	rc = write(f, arg);
	if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
out_unlink:
	if (rc < 0)
		unlink(tmp);
out_free:
	free(tmp);
	return rc;
}

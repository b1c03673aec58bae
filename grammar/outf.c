/* outf: whole-or-nothing output files. */
#include "outf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Flush and close F, keeping the first error; 0 or -errno. */
static int finish(FILE *f, int rc, bool sync)
{
	if (rc == 0 && (fflush(f) != 0 || (sync && fsync(fileno(f)) != 0)))
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* A device, FIFO or socket (/dev/null, a pipe, a terminal) is written in
 * place: renaming over it would replace the device with a regular file. */
static int write_in_place(const char *path, int (*write)(FILE *f, void *arg), void *arg)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	return finish(f, write(f, arg), false);
}

/* The mode a new file gets from open(O_CREAT, 0666): the umask applied.
 * Reading the umask means setting it, so it is set straight back. */
static mode_t new_file_mode(void)
{
	mode_t mask = umask(022);
	umask(mask);
	return 0666 & ~mask;
}

/* Write to a temporary file beside PATH, then rename it over PATH.  The new
 * file gets MODE (mkstemp makes 0600). */
static int write_and_rename(const char *path, mode_t mode, int (*write)(FILE *f, void *arg), void *arg)
{
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
	if (fchmod(fd, mode) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		close(fd);
		goto out_unlink;
	}
	rc = finish(f, write(f, arg), true);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
out_unlink:
	if (rc < 0)
		unlink(tmp);
out_free:
	free(tmp);
	return rc;
}

int outf_write(const char *path, int (*write)(FILE *f, void *arg), void *arg)
{
	if (strcmp(path, "-") == 0) {
		int rc = write(stdout, arg);
		if (fflush(stdout) != 0 && rc == 0)
			rc = -errno;
		return rc;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? write_and_rename(path, new_file_mode(), write, arg) : -errno;
	if (!S_ISREG(st.st_mode))
		return write_in_place(path, write, arg);
	/* Through a symbolic link, replace the file it names, not the link. */
	char *target = realpath(path, NULL);
	if (!target)
		return -errno;
	/* The file replaced keeps its permissions. */
	int rc = write_and_rename(target, st.st_mode & 07777, write, arg);
	free(target);
	return rc;
}

/* outf: output files are written whole or not at all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outf.h"
#include "t.h"

static int write_text(FILE *f, void *arg)
{
	return fputs(arg, f) < 0 ? -EIO : 0;
}

/* Writes half, then fails: as a backend that runs out of memory would. */
static int write_then_fail(FILE *f, void *arg)
{
	fputs(arg, f);
	return -ENOMEM;
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static size_t entries(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", dir);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (p) {
		if (fscanf(p, "%zu", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

int main(void)
{
	char dir[] = "/tmp/test_outf.XXXXXX", path[300], bad[300];
	T_CHECK(mkdtemp(dir) != NULL, "temporary directory");
	snprintf(path, sizeof(path), "%s/rules.nft", dir);
	snprintf(bad, sizeof(bad), "%s/missing/rules.nft", dir);

	T_CHECK(outf_write(path, write_text, "first\n") == 0, "a new file is written");
	T_STREQ(slurp(path), "first\n", "... with the whole text");
	struct stat st;
	T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "... mode 0644, not mkstemp's 0600");
	T_CHECK(outf_write(path, write_text, "second\n") == 0, "an existing file is replaced");
	T_STREQ(slurp(path), "second\n", "... by the new text");
	T_CHECK(outf_write(path, write_then_fail, "half") == -ENOMEM, "a failing writer's error is returned");
	T_STREQ(slurp(path), "second\n", "... and the old file is untouched");
	T_CHECK(entries(dir) == 1, "... and no temporary file is left behind");
	T_CHECK(outf_write(bad, write_text, "x\n") == -ENOENT, "a directory that does not exist: -ENOENT");

	unlink(path);
	rmdir(dir);
	T_DONE();
}

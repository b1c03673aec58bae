/* outf: output files are written whole or not at all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

	char link[300], fifo[300];
	snprintf(link, sizeof(link), "%s/link.nft", dir);
	T_CHECK(symlink("rules.nft", link) == 0 && outf_write(link, write_text, "third\n") == 0,
		"a symbolic link is written through");
	struct stat lst;
	T_CHECK(lstat(link, &lst) == 0 && S_ISLNK(lst.st_mode), "... and stays a link");
	T_STREQ(slurp(path), "third\n", "... its target has the new text");

	/* /dev/null must stay a device: renaming over it once broke the machine. */
	T_CHECK(outf_write("/dev/null", write_text, "gone\n") == 0, "/dev/null is written to");
	T_CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "... and is still a character device");
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0, "a FIFO");
	pid_t writer = fork();
	if (writer == 0)
		_exit(outf_write(fifo, write_text, "piped\n") == 0 ? 0 : 1);
	FILE *reader = fopen(fifo, "r");
	char got[32] = "";
	if (reader) {
		if (!fgets(got, sizeof(got), reader))
			got[0] = 0;
		fclose(reader);
	}
	int status = -1;
	T_CHECK(writer > 0 && waitpid(writer, &status, 0) == writer && status == 0, "... the writer succeeded");
	T_STREQ(got, "piped\n", "... is written in place, the reader gets the text");
	T_CHECK(lstat(fifo, &lst) == 0 && S_ISFIFO(lst.st_mode), "... and is still a FIFO");

	unlink(fifo);
	unlink(link);
	unlink(path);
	rmdir(dir);
	T_DONE();
}

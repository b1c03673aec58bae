/* ask: connect, write the request line, read the answer line. */
#include "ask.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define EXIT_USAGE  2
#define MAX_ANSWER  (64u << 20)

static int connect_socket(const char *path, const char *who, int timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "keygate: %s: path too long\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "keygate: cannot reach %s at %s: %s\n", who, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line from FD (the answer), NUL-terminated; NULL on error. */
static char *read_line(int fd)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 == cap) {
			char *p = cap < MAX_ANSWER ? realloc(buf, cap * 2) : NULL;
			if (!p)
				break;
			buf = p;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		char *nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

int ask_socket(const char *path, const char *who, int timeout_s, const cJSON *req, cJSON **ans)
{
	int status = EXIT_USAGE;
	char *text = cJSON_PrintUnformatted(req), *line = NULL;
	int fd = connect_socket(path, who, timeout_s);
	if (!text || fd < 0)
		goto free_text;
	size_t len = strlen(text);
	text[len] = '\n';
	int rc = write_all(fd, text, len + 1);
	if (rc == 0)
		line = read_line(fd);
	if (!line) {
		fprintf(stderr, "keygate: no answer from %s at %s%s%s\n", who, path, rc ? ": " : "",
			rc ? strerror(-rc) : "");
		goto close_fd;
	}
	*ans = cJSON_Parse(line);
	if (!cJSON_IsObject(*ans)) {
		cJSON_Delete(*ans);
		fprintf(stderr, "keygate: the answer of %s is not JSON\n", who);
		goto free_line;
	}
	status = 0;
free_line:
	free(line);
close_fd:
	close(fd);
free_text:
	free(text);
	return status;
}

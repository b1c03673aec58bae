/* log: stderr in the foreground, syslog otherwise. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static struct {
	const char *ident;
	bool foreground;
	enum log_level max_level;
} log_state = { "keygate", true, LOG_LEVEL_INFO };

static const int syslog_priority[] = {
	[LOG_LEVEL_ERR] = LOG_ERR, [LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO, [LOG_LEVEL_DEBUG] = LOG_DEBUG,
};
static const char *const level_prefix[] = {
	[LOG_LEVEL_ERR] = "error: ", [LOG_LEVEL_WARN] = "warning: ",
	[LOG_LEVEL_INFO] = "", [LOG_LEVEL_DEBUG] = "debug: ",
};

void log_init(const char *ident, bool foreground, enum log_level max_level)
{
	log_state.ident = ident;
	log_state.foreground = foreground;
	log_state.max_level = max_level;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_state.max_level)
		return;
	int saved_errno = errno;
	va_list ap;
	va_start(ap, fmt);
	if (log_state.foreground) {
		fprintf(stderr, "%s: %s", log_state.ident, level_prefix[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(syslog_priority[level], fmt, ap);
	}
	va_end(ap);
	errno = saved_errno;
}

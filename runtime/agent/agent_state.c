/* agent_state: small files, read whole, written to a temporary and renamed. */
#include "agent_state.h"
#include "agent_apply.h"
#include "agent_delta.h"
#include "agent_req.h"
#include "agent_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (CTL_MAX_FILTER + (16u << 20))

static void path_of(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

int agent_state_open(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		mkdir(parent, 0755);	/* the default's /var/lib/keygate; an error shows below */
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
		return rc;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s: not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "state directory %s: mode %03o lets others in; make it 0700", dir,
			 st.st_mode & 0777);
		return -EPERM;
	}
	return 0;
}

/* Read DIR/NAME whole (NUL-terminated, at most MAX bytes): 0, -ENOENT,
 * -EPERM (others may read or write it), -EFBIG, -errno. */
static int read_file(const char *dir, const char *name, size_t max, char **out, size_t *outlen)
{
	char path[4096];
	struct stat st;
	int rc = 0;
	path_of(path, sizeof path, dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto close_fd;
	}
	if (st.st_mode & 077) {
		rc = -EPERM;
		goto close_fd;
	}
	if ((size_t)st.st_size > max) {
		rc = -EFBIG;
		goto close_fd;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto close_fd;
	}
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		sodium_memzero(buf, (size_t)st.st_size);
		free(buf);
		rc = n < 0 ? -errno : -EIO;
		goto close_fd;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = (size_t)n;
close_fd:
	close(fd);
	return rc;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096], tmp[4200];
	int rc = 0;
	path_of(path, sizeof path, dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int agent_state_key(const char *dir, const char *name, uint8_t key[32])
{
	char *buf;
	size_t len;
	int rc = read_file(dir, name, 32, &buf, &len);
	if (rc == 0) {
		rc = len == 32 ? 0 : -EINVAL;
		if (rc == 0)
			memcpy(key, buf, 32);
		sodium_memzero(buf, len);
		free(buf);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	randombytes_buf(key, 32);
	/* X25519 clamping, as wg genkey does. */
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
	return write_file(dir, name, key, 32);
}

void agent_prefs_free(struct agent_prefs *p)
{
	free(p->login_server);
	free(p->hostname);
	free(p->snat_to);
	free(p->route_probes);
	ctl_prefixes_free(&p->routes);
	memset(p, 0, sizeof *p);
}

static char *dup_or_null(const char *s, int *rc)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*rc = -ENOMEM;
	return d;
}

int agent_prefs_copy(struct agent_prefs *dst, const struct agent_prefs *src)
{
	int rc = 0;
	*dst = *src;
	dst->login_server = dup_or_null(src->login_server, &rc);
	dst->hostname = dup_or_null(src->hostname, &rc);
	dst->snat_to = dup_or_null(src->snat_to, &rc);
	dst->route_probes = dup_or_null(src->route_probes, &rc);
	dst->routes = (struct ctl_prefixes){ 0 };
	if (rc == 0)
		rc = ctl_prefixes_copy(&dst->routes, &src->routes);
	if (rc < 0)
		agent_prefs_free(dst);
	return rc;
}

int agent_state_load_prefs(const char *dir, struct agent_prefs *p, char *err, size_t errlen)
{
	struct ctl_err e = { err, errlen };
	char *text;
	size_t len;
	memset(p, 0, sizeof *p);
	int rc = read_file(dir, "prefs.json", 1u << 20, &text, &len);
	if (rc < 0) {
		if (rc != -ENOENT)
			snprintf(err, errlen, "%s/prefs.json: %s", dir, strerror(-rc));
		return rc;
	}
	cJSON *j = cJSON_ParseWithLength(text, len);
	free(text);
	if (!cJSON_IsObject(j)) {
		rc = ctl_json_fail(&e, "%s/prefs.json: not a JSON object", dir);
		goto out;
	}
	if ((rc = ctl_json_string(j, "login_server", true, AGENT_SERVERS_MAX_LEN, &p->login_server, "prefs", &e)) < 0 ||
	    (rc = ctl_json_key(j, "server_key", true, p->server_key, "prefs", &e)) < 0 ||
	    (rc = ctl_json_string(j, "hostname", false, CTL_MAX_NAME, &p->hostname, "prefs", &e)) < 0 ||
	    (rc = ctl_json_prefixes(j, "advertise_routes", false, CTL_MAX_PREFIXES, &p->routes, NULL, "prefs", &e)) < 0 ||
	    (rc = ctl_json_bool(j, "accept_routes", false, &p->accept_routes, "prefs", &e)) < 0 ||
	    (rc = ctl_json_string(j, "snat_to", false, AGENT_SNAT_TO_MAX, &p->snat_to, "prefs", &e)) < 0 ||
	    (rc = ctl_json_string(j, "route_probes", false, AGENT_PROBE_SPEC_MAX, &p->route_probes, "prefs", &e)) < 0 ||
	    (rc = ctl_json_bool(j, "registered", false, &p->registered, "prefs", &e)) < 0 ||
	    (rc = ctl_json_bool(j, "want_up", false, &p->want_up, "prefs", &e)) < 0)
		goto out;
out:
	cJSON_Delete(j);
	if (rc < 0)
		agent_prefs_free(p);
	return rc;
}

static int save_json(const char *dir, const char *name, cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	int rc = text ? write_file(dir, name, text, strlen(text)) : -ENOMEM;
	free(text);
	cJSON_Delete(j);
	return rc;
}

int agent_state_save_prefs(const char *dir, const struct agent_prefs *p)
{
	cJSON *j = cJSON_CreateObject();
	if (!j || !cJSON_AddStringToObject(j, "login_server", p->login_server ? p->login_server : "") ||
	    !ctl_json_add_key(j, "server_key", p->server_key) ||
	    (p->hostname && !cJSON_AddStringToObject(j, "hostname", p->hostname)) ||
	    !ctl_json_add_prefixes(j, "advertise_routes", &p->routes) ||
	    !cJSON_AddBoolToObject(j, "accept_routes", p->accept_routes) ||
	    (p->snat_to && !cJSON_AddStringToObject(j, "snat_to", p->snat_to)) ||
	    (p->route_probes && !cJSON_AddStringToObject(j, "route_probes", p->route_probes)) ||
	    !cJSON_AddBoolToObject(j, "registered", p->registered) ||
	    !cJSON_AddBoolToObject(j, "want_up", p->want_up)) {
		cJSON_Delete(j);
		return -ENOMEM;
	}
	return save_json(dir, "prefs.json", j);
}

/* A journal record: SUM_HEX hex digits of checksum, a space, the delta's
 * JSON, a newline: REC_EXTRA bytes beside the JSON. */
#define SUM_HEX 16
#define REC_EXTRA (SUM_HEX + 2)

/* The journal's checksum of TEXT: 8 bytes of BLAKE2b, as SUM_HEX hex digits. */
static void sum_of(const char *text, size_t len, char hex[SUM_HEX + 1])
{
	uint8_t h[8];
	crypto_generichash(h, sizeof h, (const uint8_t *)text, len, NULL, 0);
	sodium_bin2hex(hex, SUM_HEX + 1, h, sizeof h);
}

/* Apply the journal's record LINE (checksum, space, delta JSON) to M:
 * false when it is damaged or does not apply (replay stops there). */
static bool replay_record(const char *line, size_t len, struct ctl_netmap *m)
{
	char sum[SUM_HEX + 1], err[256];
	struct ctl_err e = { err, sizeof err };
	struct ctl_delta d;
	struct ctl_netmap view;
	const char *json = line + SUM_HEX + 1;
	if (len < REC_EXTRA || line[SUM_HEX] != ' ')
		return false;
	sum_of(json, len - (SUM_HEX + 1), sum);
	if (memcmp(sum, line, SUM_HEX))
		return false;
	cJSON *j = cJSON_ParseWithLength(json, len - (SUM_HEX + 1));
	bool ok = j && ctl_delta_from_json(j, &d, &e) == 0;
	cJSON_Delete(j);
	if (!ok)
		return false;
	ok = agent_delta_applies(m, &d) && agent_delta_patch_filter(m, &d) == 0 &&
	     agent_delta_prepare(m, &d, false, &view) == 0;
	if (ok)
		agent_delta_commit(m, &d, &view);
	ctl_delta_free(&d);
	return ok;
}

/* The header that ties the journal to the netmap.json holding BASE. */
static int journal_header(char *out, size_t len, const char *base, size_t base_len)
{
	char sum[SUM_HEX + 1];
	sum_of(base, base_len, sum);
	return snprintf(out, len, "keygate-journal 1 %s\n", sum);
}

/* M (netmap.json's BASE) with the journal's records applied, up to the
 * first that is torn or damaged.  A journal of another base (netmap.json
 * rewritten, the journal not yet restarted) holds nothing for it. */
static int replay_journal(const char *dir, const char *base, size_t base_len, struct ctl_netmap *m)
{
	char *text, header[64];
	size_t len, at = (size_t)journal_header(header, sizeof header, base, base_len);
	int rc = read_file(dir, "netmap.journal", MAX_FILE, &text, &len);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	if (len < at || memcmp(text, header, at))
		at = len;
	while (at < len) {
		char *nl = memchr(text + at, '\n', len - at);
		if (!nl || !replay_record(text + at, (size_t)(nl - text) - at, m))
			break;
		at = (size_t)(nl - text) + 1;
	}
	free(text);
	return 0;
}

int agent_state_load_netmap(const char *dir, struct ctl_netmap *m, char *err, size_t errlen)
{
	struct ctl_err e = { err, errlen };
	char *text;
	size_t len;
	memset(m, 0, sizeof *m);
	int rc = read_file(dir, "netmap.json", MAX_FILE, &text, &len);
	if (rc < 0) {
		if (rc != -ENOENT)
			snprintf(err, errlen, "%s/netmap.json: %s", dir, strerror(-rc));
		return rc;
	}
	cJSON *j = cJSON_ParseWithLength(text, len);
	if (!j)
		rc = ctl_json_fail(&e, "%s/netmap.json: not JSON", dir);
	else
		rc = ctl_netmap_from_json(j, m, &e);
	cJSON_Delete(j);
	if (rc == 0 && (rc = replay_journal(dir, text, len, m)) < 0) {
		snprintf(err, errlen, "%s/netmap.journal: %s", dir, strerror(-rc));
		ctl_netmap_free(m);
	}
	free(text);
	return rc;
}

/* A rename in DIR made durable before the journal restarts over it. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* Write LEN bytes of DATA to the journal (truncated first with TRUNC),
 * durable on return. */
static int journal_write(const char *dir, const char *data, size_t len, bool trunc)
{
	char path[4096];
	path_of(path, sizeof path, dir, "netmap.journal");
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (trunc ? O_TRUNC : O_APPEND), 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, data, len) == (ssize_t)len && fdatasync(fd) == 0 ? 0 : errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int agent_state_save_netmap(const char *dir, const struct ctl_netmap *m, struct agent_journal *jn)
{
	char header[64];
	char *text = ctl_netmap_encode(m);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	int rc = write_file(dir, "netmap.json", text, len);
	jn->open = false;
	if (rc == 0)
		rc = sync_dir(dir);
	int hlen = journal_header(header, sizeof header, text, len);
	if (rc == 0)
		rc = journal_write(dir, header, (size_t)hlen, true);
	if (rc == 0)
		*jn = (struct agent_journal){ .open = true, .size = (size_t)hlen, .base_size = len };
	free(text);
	return rc;
}

int agent_state_save_delta(const char *dir, struct agent_journal *jn, const char *delta, size_t len,
			   const struct ctl_netmap *after)
{
	if (!jn->open || jn->size + len + REC_EXTRA > jn->base_size)
		return agent_state_save_netmap(dir, after, jn);
	char *rec = malloc(len + REC_EXTRA);
	if (!rec)
		return -ENOMEM;
	sum_of(delta, len, rec);
	rec[SUM_HEX] = ' ';
	memcpy(rec + SUM_HEX + 1, delta, len);
	rec[len + REC_EXTRA - 1] = '\n';
	int rc = journal_write(dir, rec, len + REC_EXTRA, false);
	free(rec);
	/* A record that may be torn ends the journal: the next save is whole. */
	jn->open = rc == 0;
	jn->size += len + REC_EXTRA;
	return rc;
}

int agent_state_forget_netmap(const char *dir, struct agent_journal *jn)
{
	char path[4096];
	jn->open = false;
	path_of(path, sizeof path, dir, "netmap.journal");
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	path_of(path, sizeof path, dir, "netmap.json");
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

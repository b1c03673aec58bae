/* coord_state: the state directory, the key pair and the store. */
#include "coord_state.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_B64_LEN 44

void coord_state_path(const struct coord_state *st, const char *name, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", st->dir, name);
}

void coord_key_base64(char out[45], const uint8_t key[CTL_KEY_LEN])
{
	sodium_bin2base64(out, 45, key, CTL_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *what)
{
	snprintf(err, errlen, fmt, what, strerror(-rc));
	return rc;
}

/* The directory exists (made 0700 when CREATE) and others cannot write it. */
static int open_dir(const char *dir, bool create, char *err, size_t errlen)
{
	struct stat sb;
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, -errno, "%s: cannot create: %s", dir);
	if (stat(dir, &sb) < 0)
		return fail(err, errlen, -errno, "%s: %s", dir);
	if (!S_ISDIR(sb.st_mode))
		return fail(err, errlen, -ENOTDIR, "%s: %s", dir);
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: writable by group or others (mode %04o): refused", dir,
			 (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Write a new key pair to PATH (0600, created exclusively). */
static int create_key(struct coord_state *st, const char *path, char *err, size_t errlen)
{
	char line[KEY_B64_LEN + 2];
	int rc = 0;
	ctl_identity_generate(&st->id);
	sodium_bin2base64(line, sizeof line, st->id.private_key, CTL_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	line[KEY_B64_LEN] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = fail(err, errlen, -errno, "%s: cannot create: %s", path);
		goto wipe;
	}
	if (write(fd, line, KEY_B64_LEN + 1) != KEY_B64_LEN + 1 || fsync(fd) < 0) {
		rc = fail(err, errlen, -EIO, "%s: cannot write: %s", path);
		unlink(path);
	}
	close(fd);
	st->created_key = rc == 0;
wipe:
	sodium_memzero(line, sizeof line);
	return rc;
}

/* Read the key at PATH: mode 0600 or stricter, one base64 key. */
static int read_key(struct coord_state *st, const char *path, char *err, size_t errlen)
{
	char line[KEY_B64_LEN + 8];
	uint8_t priv[CTL_KEY_LEN];
	struct stat sb;
	size_t binlen;
	int rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rc = fail(err, errlen, -EINVAL, "%s: not a regular file: %s", path);
		goto close_fd;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: readable or writable by group or others (mode %04o): refused; "
			 "chmod 600 it", path, (unsigned)(sb.st_mode & 07777));
		rc = -EPERM;
		goto close_fd;
	}
	ssize_t n = read(fd, line, sizeof line - 1);
	if (n < KEY_B64_LEN || (n > KEY_B64_LEN && line[KEY_B64_LEN] != '\n') || n > KEY_B64_LEN + 1 ||
	    sodium_base642bin(priv, sizeof priv, line, KEY_B64_LEN, NULL, &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != CTL_KEY_LEN) {
		rc = fail(err, errlen, -EINVAL, "%s: not a base64 key: %s", path);
		goto wipe;
	}
	rc = ctl_identity_init(&st->id, priv);
	if (rc < 0)
		fail(err, errlen, rc, "%s: unusable key: %s", path);
wipe:
	sodium_memzero(line, sizeof line);
	sodium_memzero(priv, sizeof priv);
close_fd:
	close(fd);
	return rc;
}

/* The key pair in the shared store: read, or made and added (losing a race
 * to another coordinator means reading its key). */
static int store_key(struct coord_state *st, bool create, char *err, size_t errlen)
{
	char b64[KEY_B64_LEN + 1];
	uint8_t priv[CTL_KEY_LEN];
	size_t binlen;
	int rc = store_setting_get(st->store, COORD_KEY_SETTING, b64, sizeof b64);
	if (rc == -ENOENT && create) {
		ctl_identity_generate(&st->id);
		sodium_bin2base64(b64, sizeof b64, st->id.private_key, CTL_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
		rc = store_setting_add(st->store, COORD_KEY_SETTING, b64);
		st->created_key = rc == 0;
		if (rc == -EEXIST)
			rc = store_setting_get(st->store, COORD_KEY_SETTING, b64, sizeof b64);
		else if (rc == 0)
			goto wipe;
	}
	if (rc < 0) {
		snprintf(err, errlen, "the coordinator key in the database: %s", strerror(-rc));
		goto wipe;
	}
	if (sodium_base642bin(priv, sizeof priv, b64, strlen(b64), NULL, &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != CTL_KEY_LEN ||
	    (rc = ctl_identity_init(&st->id, priv)) < 0) {
		snprintf(err, errlen, "the coordinator key in the database is not a base64 key");
		rc = -EINVAL;
	}
wipe:
	sodium_memzero(b64, sizeof b64);
	sodium_memzero(priv, sizeof priv);
	return rc;
}

/* The key pair in DIR/coord.key: read, or made when CREATE. */
static int file_key(struct coord_state *st, bool create, char *err, size_t errlen)
{
	char path[PATH_MAX];
	coord_state_path(st, COORD_KEY_FILE, path);
	if (create && access(path, F_OK) < 0 && errno == ENOENT)
		return create_key(st, path, err, errlen);
	return read_key(st, path, err, errlen);
}

int coord_state_open(struct coord_state *st, const char *dir, const char *db, bool create, char *err,
		     size_t errlen)
{
	char path[PATH_MAX];
	int rc;
	memset(st, 0, sizeof *st);
	st->key_lifetime = COORD_KEY_LIFETIME;
	if (strlen(dir) >= sizeof st->dir) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	strcpy(st->dir, dir);
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -EIO;
	}
	if ((rc = open_dir(dir, create, err, errlen)) < 0)
		return rc;
	if (!db) {
		coord_state_path(st, COORD_DB_FILE, path);
		if (!create && access(path, F_OK) < 0)
			return fail(err, errlen, -errno, "%s: %s", path);
		db = path;
	}
	if ((rc = store_open(db, &st->store, err, errlen)) < 0)
		return rc;
	rc = store_shared(st->store) ? store_key(st, create, err, errlen) : file_key(st, create, err, errlen);
	if (rc < 0) {
		ctl_identity_wipe(&st->id);
		store_close(st->store);
		st->store = NULL;
	}
	return rc;
}

void coord_state_close(struct coord_state *st)
{
	if (st->store)
		store_close(st->store);
	st->store = NULL;
	ctl_identity_wipe(&st->id);
}

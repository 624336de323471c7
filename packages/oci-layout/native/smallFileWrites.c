/*
 * The other half of smallFiles.c: many small regular files of one directory
 * created in one thread-pool job, so that unpacking a layer parses the next
 * entries on the main thread while the pool makes the syscalls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "fsnative.h"

/* The numbers createFiles takes per file, in this order (see CreateFiles). */
enum { W_LENGTH, W_CREATE_MODE, W_UID, W_GID, W_MODE, W_MTIME, WRITE_FIELDS };

#define CREATE_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref data_ref;
  const char *data;
  int root_fd;
  char *dir;
  char *names; /* count names, each ended by a NUL */
  double *fields; /* WRITE_FIELDS per file */
  size_t count;
  /* What the job did: files created, and why it stopped before the end. */
  size_t done;
  int err;
  const char *failed;
} WriteBatch;

/* Seconds as libuv turns them into a timespec for Node's futimes (microseconds kept), so both paths set the same times. */
static struct timespec to_timespec(double time) {
  struct timespec ts;
  ts.tv_sec = (time_t)time;
  ts.tv_nsec = (long)((time - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

static int write_all(int fd, const char *data, size_t length) {
  for (size_t done = 0; done < length;) {
    ssize_t n = write(fd, data + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += (size_t)n;
  }
  return 0;
}

/* The rest of one file after its creation: content, owner, mode, times, close. 0 or an errno, *failed naming the call. */
static int finish_file(int fd, const char *data, const double *f, const char **failed) {
  int err = 0;
  /* chown before chmod: chown clears setuid/setgid bits. */
  if ((err = write_all(fd, data, (size_t)f[W_LENGTH])) != 0) *failed = "write";
  else if (f[W_UID] >= 0 && fchown(fd, (uid_t)f[W_UID], (gid_t)f[W_GID]) != 0) *failed = "fchown", err = errno;
  else if (f[W_MODE] >= 0 && fchmod(fd, (mode_t)f[W_MODE]) != 0) *failed = "fchmod", err = errno;
  else {
    struct timespec times[2] = {to_timespec(f[W_MTIME]), to_timespec(f[W_MTIME])};
    if (futimens(fd, times) != 0) *failed = "futime", err = errno;
  }
  if (close(fd) != 0 && err == 0) *failed = "close", err = errno;
  return err;
}

/*
 * Creates `name` in dfd, never opening what is there (O_EXCL|O_NOFOLLOW): a
 * non-directory in the way is unlinked (never followed) and the create
 * retried; a directory in the way gives EEXIST, for the caller to remove.
 */
static int create_file(int dfd, const char *name, const char *data, const double *f, const char **failed) {
  *failed = "open";
  int fd = openat(dfd, name, CREATE_FLAGS, (mode_t)f[W_CREATE_MODE]);
  if (fd < 0 && errno == EEXIST) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return *failed = "lstat", errno;
    if (S_ISDIR(st.st_mode)) return EEXIST;
    if (unlinkat(dfd, name, 0) != 0) return *failed = "unlink", errno;
    fd = openat(dfd, name, CREATE_FLAGS, (mode_t)f[W_CREATE_MODE]);
  }
  if (fd < 0) return errno;
  return finish_file(fd, data, f, failed);
}

/* A name of an entry in the directory itself: openat would walk (and follow symlinks) on any other. */
static bool is_plain_name(const char *name) {
  return name[0] != 0 && strchr(name, '/') == NULL && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static void write_batch_execute(napi_env env, void *arg) {
  (void)env;
  WriteBatch *b = arg;
  int dfd = open_directory_beneath(b->root_fd, b->dir);
  if (dfd < 0) {
    b->err = errno;
    b->failed = "openat2";
    return;
  }
  const char *name = b->names;
  size_t offset = 0;
  for (; b->done < b->count; b->done++, name += strlen(name) + 1) {
    const double *f = b->fields + b->done * WRITE_FIELDS;
    b->err = create_file(dfd, name, b->data + offset, f, &b->failed);
    if (b->err != 0) break;
    offset += (size_t)f[W_LENGTH];
  }
  close(dfd);
}

static void write_batch_free(napi_env env, WriteBatch *b) {
  free(b->dir);
  free(b->names);
  free(b->fields);
  if (b->data_ref != NULL) napi_delete_reference(env, b->data_ref);
  if (b->work != NULL) napi_delete_async_work(env, b->work);
  free(b);
}

static void write_batch_complete(napi_env env, napi_status status, void *arg) {
  WriteBatch *b = arg;
  if (status != napi_ok) {
    reject_with_message(env, b->deferred, "createFiles was cancelled");
  } else {
    napi_value result, done, err, failed;
    napi_create_array_with_length(env, 3, &result);
    napi_create_double(env, (double)b->done, &done);
    napi_create_int32(env, -b->err, &err);
    napi_create_string_utf8(env, b->failed != NULL ? b->failed : "", NAPI_AUTO_LENGTH, &failed);
    napi_set_element(env, result, 0, done);
    napi_set_element(env, result, 1, err);
    napi_set_element(env, result, 2, failed);
    napi_resolve_deferred(env, b->deferred, result);
  }
  write_batch_free(env, b);
}

/*
 * createFiles(rootFd, dir, names, data, fields): a promise of [done, errno, syscall].
 * On the thread pool: opens `dir` below rootFd as openDirectoryBeneath does
 * (no symlink followed), then creates each of `names` (NUL-ended, a string or
 * a Buffer of bytes) in it, in order: create_file, then its `fields[W_LENGTH]`
 * bytes of `data` (the files' contents back to back), fchown to W_UID:W_GID
 * unless W_UID < 0, fchmod to W_MODE unless it is < 0, and futimens to W_MTIME
 * (seconds). It stops at the first failure: `done` files were made, the next
 * one failed with -errno in `syscall` (0 and "" when all were made).
 */
napi_value CreateFiles(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, argv, 5, "createFiles(rootFd, dir, names, data, fields)")) return NULL;
  uint32_t root_fd;
  void *data = NULL;
  size_t data_length = 0;
  if (!get_uint32(env, argv[0], &root_fd, "rootFd") || !get_buffer(env, argv[3], &data, &data_length, "data")) return NULL;
  bool is_typedarray = false;
  napi_typedarray_type type = napi_int8_array;
  size_t field_count = 0;
  double *fields = NULL;
  napi_is_typedarray(env, argv[4], &is_typedarray);
  if (is_typedarray) napi_get_typedarray_info(env, argv[4], &type, &field_count, (void **)&fields, NULL, NULL);
  WriteBatch *b = calloc(1, sizeof *b);
  if (b == NULL) {
    throw_errno(env, ENOMEM, "open", "");
    return NULL;
  }
  size_t dir_length = 0, names_length = 0;
  b->dir = malloc_string(env, argv[1], &dir_length);
  b->names = malloc_string(env, argv[2], &names_length);
  size_t ends = 0;
  bool plain = b->names != NULL;
  for (const char *name = b->names; plain && name < b->names + names_length; name += strlen(name) + 1, ends++) plain = is_plain_name(name);
  b->count = ends;
  size_t total = 0;
  for (size_t i = 0; is_typedarray && type == napi_float64_array && i < ends && i * WRITE_FIELDS < field_count; i++) total += (size_t)fields[i * WRITE_FIELDS + W_LENGTH];
  if (!is_typedarray || type != napi_float64_array || b->dir == NULL || b->names == NULL || field_count != ends * WRITE_FIELDS ||
      total > data_length || strlen(b->dir) != dir_length || !plain) {
    write_batch_free(env, b);
    napi_throw_type_error(env, NULL, "createFiles(rootFd, dir, names, data, fields): NUL-ended names (no '/', '.' or '..'), their contents back to back, and a Float64Array of 6 numbers per name");
    return NULL;
  }
  b->fields = malloc((field_count > 0 ? field_count : 1) * sizeof *b->fields);
  if (b->fields == NULL) {
    write_batch_free(env, b);
    throw_errno(env, ENOMEM, "open", "");
    return NULL;
  }
  if (field_count > 0) memcpy(b->fields, fields, field_count * sizeof *b->fields);
  b->root_fd = (int)root_fd;
  b->data = data;
  napi_create_reference(env, argv[3], 1, &b->data_ref);
  return queue_promised_work(env, "tsbuild:createFiles", write_batch_execute, write_batch_complete, b, &b->deferred, &b->work);
}

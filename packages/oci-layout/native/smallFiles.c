/*
 * For trees of many small files, where Node spends more per fs call than the
 * kernel does: a directory listed with every entry's lstat in one call, a
 * small file read in one call, and many files of a directory read in one
 * thread-pool job.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "fsnative.h"

/* The lstat fields listDirectory returns per entry, in this order (times as seconds and nanoseconds, as Node gets them). */
enum { F_DEV, F_INO, F_MODE, F_NLINK, F_UID, F_GID, F_RDEV, F_SIZE, F_MTIME_S, F_MTIME_NS, F_CTIME_S, F_CTIME_NS, STAT_FIELDS };

/* Whether name is valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF), as byteNames.ts decides. */
static bool is_utf8(const unsigned char *name) {
  for (const unsigned char *p = name; *p != 0;) {
    unsigned char lead = *p;
    if (lead < 0x80) {
      p++;
      continue;
    }
    int length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length == 0) return false;
    unsigned char low = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
    unsigned char high = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < low || p[1] > high) return false;
    for (int i = 2; i < length; i++) {
      if ((p[i] & 0xc0) != 0x80) return false;
    }
    p += length;
  }
  return true;
}

/* One directory's listing as list_directory makes it: the names back to back (each ended by a NUL), STAT_FIELDS numbers per entry, or the error. */
typedef struct {
  char path[PATH_BUF];
  double *fields;
  size_t count;
  char *text;
  size_t text_length;
  bool all_utf8;
  int err;
  const char *failed;
} Listing;

/* Lists l->path into l (fstatat relative to the open directory, no symlink followed); touches no JS value, so it runs on the thread pool too. */
static void list_directory(Listing *l) {
  l->failed = "scandir";
  l->all_utf8 = true;
  int dfd = open(l->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    l->err = errno;
    return;
  }
  DIR *dir = fdopendir(dfd);
  if (dir == NULL) {
    l->err = errno;
    close(dfd);
    return;
  }
  size_t capacity = 64, text_capacity = 4096;
  l->fields = malloc(capacity * STAT_FIELDS * sizeof *l->fields);
  l->text = malloc(text_capacity);
  l->err = l->fields == NULL || l->text == NULL ? ENOMEM : 0;
  while (l->err == 0) {
    errno = 0;
    struct dirent *d = readdir(dir);
    if (d == NULL) {
      l->err = errno;
      break;
    }
    if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      l->err = errno;
      l->failed = "lstat";
      snprintf(l->path + strlen(l->path), sizeof l->path - strlen(l->path), "/%s", d->d_name);
      break;
    }
    if (l->count == capacity) {
      capacity *= 2;
      double *grown = realloc(l->fields, capacity * STAT_FIELDS * sizeof *l->fields);
      if (grown == NULL) {
        l->err = ENOMEM;
        break;
      }
      l->fields = grown;
    }
    size_t length = strlen(d->d_name) + 1;
    if (l->text_length + length > text_capacity) {
      text_capacity = 2 * (l->text_length + length);
      char *grown = realloc(l->text, text_capacity);
      if (grown == NULL) {
        l->err = ENOMEM;
        break;
      }
      l->text = grown;
    }
    memcpy(l->text + l->text_length, d->d_name, length);
    l->text_length += length;
    if (l->all_utf8 && !is_utf8((const unsigned char *)d->d_name)) l->all_utf8 = false;
    double *f = l->fields + l->count * STAT_FIELDS;
    f[F_DEV] = (double)st.st_dev;
    f[F_INO] = (double)st.st_ino;
    f[F_MODE] = (double)st.st_mode;
    f[F_NLINK] = (double)st.st_nlink;
    f[F_UID] = (double)st.st_uid;
    f[F_GID] = (double)st.st_gid;
    f[F_RDEV] = (double)st.st_rdev;
    f[F_SIZE] = (double)st.st_size;
    f[F_MTIME_S] = (double)st.st_mtim.tv_sec;
    f[F_MTIME_NS] = (double)st.st_mtim.tv_nsec;
    f[F_CTIME_S] = (double)st.st_ctim.tv_sec;
    f[F_CTIME_NS] = (double)st.st_ctim.tv_nsec;
    l->count++;
  }
  closedir(dir);
}

/* A successful listing as [names, fields] (see listDirectory); frees what it holds. */
static napi_value listing_value(napi_env env, Listing *l) {
  napi_value names, buffer, array, result;
  if (l->all_utf8) {
    napi_create_string_utf8(env, l->text, l->text_length, &names);
  } else {
    napi_create_array_with_length(env, l->count, &names);
    const char *name = l->text;
    for (size_t i = 0; i < l->count; i++, name += strlen(name) + 1) {
      napi_value value;
      if (is_utf8((const unsigned char *)name)) napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &value);
      else napi_create_buffer_copy(env, strlen(name), name, NULL, &value);
      napi_set_element(env, names, (uint32_t)i, value);
    }
  }
  void *data = NULL;
  napi_create_arraybuffer(env, l->count * STAT_FIELDS * sizeof *l->fields, &data, &buffer);
  if (l->count > 0) memcpy(data, l->fields, l->count * STAT_FIELDS * sizeof *l->fields);
  napi_create_typedarray(env, napi_float64_array, l->count * STAT_FIELDS, buffer, 0, &array);
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, names);
  napi_set_element(env, result, 1, array);
  return result;
}

static void listing_free(Listing *l) {
  free(l->fields);
  free(l->text);
  l->fields = NULL;
  l->text = NULL;
}

/*
 * listDirectory(path): [names, fields], the directory's entries (no "." or
 * "..", in readdir order) and a Float64Array of STAT_FIELDS numbers per
 * entry: its lstat (fstatat relative to the open directory, no symlink followed).
 * names is one string, each name followed by a NUL, when every name is UTF-8
 * (one JS string, not one per entry); otherwise an array in which a name that
 * is not UTF-8 is a Buffer of its bytes (see byteNames.ts).
 */
napi_value ListDirectory(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Listing l = {0};
  if (!get_args(env, info, argv, 1, "listDirectory(path)") || !get_path(env, argv[0], l.path, sizeof l.path, "path")) return NULL;
  list_directory(&l);
  napi_value result = NULL;
  if (l.err != 0) throw_errno(env, l.err, l.failed, l.path);
  else result = listing_value(env, &l);
  listing_free(&l);
  return result;
}

/* listDirectoryAsync's job: the listing is made on libuv's thread pool. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  Listing listing;
} ListJob;

static void list_job_execute(napi_env env, void *arg) {
  (void)env;
  list_directory(&((ListJob *)arg)->listing);
}

static void list_job_complete(napi_env env, napi_status status, void *arg) {
  ListJob *job = arg;
  Listing *l = &job->listing;
  if (status != napi_ok) {
    reject_with_message(env, job->deferred, "listDirectoryAsync was cancelled");
  } else if (l->err != 0) {
    napi_reject_deferred(env, job->deferred, errno_error(env, l->err, l->failed, l->path));
  } else {
    napi_resolve_deferred(env, job->deferred, listing_value(env, l));
  }
  listing_free(l);
  napi_delete_async_work(env, job->work);
  free(job);
}

/* listDirectoryAsync(path): a promise of listDirectory's [names, fields], listed on the thread pool while the main thread goes on. */
napi_value ListDirectoryAsync(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  ListJob *job = calloc(1, sizeof *job);
  if (job == NULL) {
    throw_errno(env, ENOMEM, "scandir", "");
    return NULL;
  }
  if (!get_args(env, info, argv, 1, "listDirectoryAsync(path)") || !get_path(env, argv[0], job->listing.path, sizeof job->listing.path, "path")) {
    free(job);
    return NULL;
  }
  return queue_promised_work(env, "tsbuild:listDirectory", list_job_execute, list_job_complete, job, &job->deferred, &job->work);
}

/*
 * Reads the file at path (relative to dfd, opened O_NOFOLLOW) into data: until length bytes,
 * the file's end, or a read that comes short exactly one byte before length
 * (callers ask one byte more than the size they expect, to see growth; a
 * regular file reads short only at its end). The bytes read, or -errno with
 * *failed naming the call; with ctime_after, the file's ctime as fstat gives
 * it once the bytes are read.
 */
static ssize_t read_whole_at(int dfd, const char *path, char *data, size_t length, const char **failed, struct timespec *ctime_after) {
  *failed = "open";
  int fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  *failed = "read";
  size_t filled = 0;
  while (filled < length) {
    ssize_t n = read(fd, data + filled, length - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return -err;
    }
    filled += (size_t)n;
    if (n == 0 || filled + 1 == length) break;
  }
  struct stat after;
  if (ctime_after != NULL) *ctime_after = fstat(fd, &after) == 0 ? after.st_ctim : (struct timespec){-1, 0};
  close(fd);
  return (ssize_t)filled;
}

/* readFile(path, buffer): read_whole_at into the buffer from its start; the bytes read. */
napi_value ReadFile(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_BUF];
  if (!get_args(env, info, argv, 2, "readFile(path, buffer)") || !get_path(env, argv[0], path, sizeof path, "path")) return NULL;
  void *data = NULL;
  size_t length = 0;
  if (!get_buffer(env, argv[1], &data, &length, "buffer")) return NULL;
  const char *failed = NULL;
  ssize_t filled = read_whole_at(AT_FDCWD, path, data, length, &failed, NULL);
  if (filled < 0) {
    throw_errno(env, (int)-filled, failed, path);
    return NULL;
  }
  napi_value result;
  napi_create_double(env, (double)filled, &result);
  return result;
}

/*
 * The reads of readFiles, done on libuv's thread pool: each file's bytes go
 * to its own slot of the buffer, its result is the bytes read or -errno.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer;
  char *data;
  size_t count;
  char *dir;
  char *names; /* count names, each ended by a NUL */
  size_t *slots; /* slot i starts at slots[i] and ends at slots[i + 1] */
  double *results;
  double *ctimes; /* per file: the ctime's seconds and nanoseconds fstat gave after the read */
  unsigned char *digests; /* per file: the SHA-256 of the bytes read (zeros where the read failed); NULL when not asked for */
} ReadBatch;

static void read_batch_execute(napi_env env, void *arg) {
  (void)env;
  ReadBatch *batch = arg;
  const char *failed = NULL;
  int dfd = open(batch->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const char *name = batch->names;
  for (size_t i = 0; i < batch->count; i++, name += strlen(name) + 1) {
    struct timespec ctime = {-1, 0};
    batch->results[i] = dfd < 0 ? (double)-errno
      : (double)read_whole_at(dfd, name, batch->data + batch->slots[i], batch->slots[i + 1] - batch->slots[i], &failed, &ctime);
    batch->ctimes[2 * i] = (double)ctime.tv_sec;
    batch->ctimes[2 * i + 1] = (double)ctime.tv_nsec;
  }
  if (dfd >= 0) close(dfd);
  if (batch->digests != NULL) sha256_slots(batch->data, batch->slots, batch->results, batch->count, batch->digests);
}

static void read_batch_free(napi_env env, ReadBatch *batch) {
  free(batch->dir);
  free(batch->names);
  free(batch->slots);
  free(batch->results);
  free(batch->ctimes);
  free(batch->digests);
  if (batch->buffer != NULL) napi_delete_reference(env, batch->buffer);
  if (batch->work != NULL) napi_delete_async_work(env, batch->work);
  free(batch);
}

/* A Float64Array holding a copy of `count` numbers. */
static napi_value float64_array(napi_env env, const double *numbers, size_t count) {
  napi_value buffer, array;
  void *data = NULL;
  napi_create_arraybuffer(env, count * sizeof(double), &data, &buffer);
  if (count > 0) memcpy(data, numbers, count * sizeof(double));
  napi_create_typedarray(env, napi_float64_array, count, buffer, 0, &array);
  return array;
}

static void read_batch_complete(napi_env env, napi_status status, void *arg) {
  ReadBatch *batch = arg;
  napi_value buffer, results, ctimes, digests, reads;
  napi_get_reference_value(env, batch->buffer, &buffer);
  results = float64_array(env, batch->results, batch->count);
  ctimes = float64_array(env, batch->ctimes, 2 * batch->count);
  if (batch->digests != NULL) napi_create_buffer_copy(env, 32 * batch->count, batch->digests, NULL, &digests);
  else napi_get_undefined(env, &digests);
  if (status != napi_ok) {
    reject_with_message(env, batch->deferred, "readFiles was cancelled");
  } else {
    napi_create_array_with_length(env, 4, &reads);
    napi_set_element(env, reads, 0, buffer);
    napi_set_element(env, reads, 1, results);
    napi_set_element(env, reads, 2, ctimes);
    napi_set_element(env, reads, 3, digests);
    napi_resolve_deferred(env, batch->deferred, reads);
  }
  read_batch_free(env, batch);
}

char *malloc_string(napi_env env, napi_value value, size_t *length) {
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (is_buffer) {
    void *data = NULL;
    napi_get_buffer_info(env, value, &data, length);
    char *bytes = malloc(*length + 1);
    if (*length > 0) memcpy(bytes, data, *length);
    bytes[*length] = 0;
    return bytes;
  }
  if (napi_get_value_string_utf8(env, value, NULL, 0, length) != napi_ok) return NULL;
  char *text = malloc(*length + 1);
  napi_get_value_string_utf8(env, value, text, *length + 1, length);
  return text;
}

/*
 * readFiles(dir, names, lengths, sha256): a promise of [buffer, results, ctimes, digests]. `names`
 * (a string, or a Buffer of bytes) holds the file names in `dir`, each ended by a NUL; `lengths` (a
 * Float64Array) the slot each is read into, read_whole_at's length. Each file
 * is read (openat below one descriptor of dir, O_NOFOLLOW) on the thread
 * pool into its slot of `buffer`; results[i] is the bytes read or -errno,
 * and ctimes[2i], ctimes[2i + 1] the seconds and nanoseconds of its ctime as
 * fstat gave it after the read (-1 where there is none): a file whose status
 * changed after it was listed may hold other bytes than its listing says.
 * With `sha256` true, digests holds each file's SHA-256 (32 bytes, in order;
 * zeros where the read failed), else it is undefined.
 * One call, one string and one pool job for many small files.
 */
napi_value ReadFiles(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool sha256 = false;
  if (argc >= 4) napi_get_value_bool(env, argv[3], &sha256);
  napi_typedarray_type type = napi_int8_array;
  size_t count = 0;
  double *lengths = NULL;
  bool is_typedarray = false;
  if (argc >= 3) napi_is_typedarray(env, argv[2], &is_typedarray);
  if (is_typedarray) napi_get_typedarray_info(env, argv[2], &type, &count, (void **)&lengths, NULL, NULL);
  ReadBatch *batch = calloc(1, sizeof *batch);
  size_t dir_length = 0, names_length = 0;
  batch->dir = argc >= 3 ? malloc_string(env, argv[0], &dir_length) : NULL;
  batch->names = argc >= 3 ? malloc_string(env, argv[1], &names_length) : NULL;
  size_t ends = 0;
  for (size_t i = 0; batch->names != NULL && i < names_length; i++) ends += batch->names[i] == 0;
  if (!is_typedarray || type != napi_float64_array || batch->dir == NULL || batch->names == NULL || ends != count) {
    read_batch_free(env, batch);
    napi_throw_type_error(env, NULL, "readFiles(dir, names, lengths, sha256): a directory, its NUL-ended names and a Float64Array of as many lengths");
    return NULL;
  }
  batch->count = count;
  batch->slots = calloc(count + 1, sizeof *batch->slots);
  batch->results = calloc(count + 1, sizeof *batch->results);
  batch->ctimes = calloc(2 * count + 1, sizeof *batch->ctimes);
  if (sha256 && (batch->digests = calloc(32 * count + 1, 1)) == NULL) {
    read_batch_free(env, batch);
    napi_throw_range_error(env, "ENOMEM", "readFiles: cannot allocate the digests");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    if (!(lengths[i] >= 1)) {
      read_batch_free(env, batch);
      napi_throw_range_error(env, NULL, "readFiles: every length must be at least 1");
      return NULL;
    }
    batch->slots[i + 1] = batch->slots[i] + (size_t)lengths[i];
  }
  napi_value buffer;
  if (napi_create_buffer(env, batch->slots[count] > 0 ? batch->slots[count] : 1, (void **)&batch->data, &buffer) != napi_ok) {
    read_batch_free(env, batch);
    napi_throw_range_error(env, "ENOMEM", "readFiles: cannot allocate the buffer");
    return NULL;
  }
  napi_create_reference(env, buffer, 1, &batch->buffer);
  return queue_promised_work(env, "tsbuild:readFiles", read_batch_execute, read_batch_complete, batch, &batch->deferred, &batch->work);
}


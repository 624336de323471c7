/*
 * The few filesystem calls Node lacks and layer unpacking needs: device nodes,
 * extended attributes on the link itself (never through a symlink), and
 * opening a directory below a root without following any symlink (and, in
 * smallFiles.c and smallFileWrites.c, the calls for trees of many small files; in mounts.c, mount
 * and unmount).
 * Paths are JS strings or Buffers (names are bytes, not always UTF-8).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <node_api.h>
#include "fsnative.h"

#define NAME_BUF 256

void reject_with_message(napi_env env, napi_deferred deferred, const char *message) {
  napi_value text, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_reject_deferred(env, deferred, error);
}

napi_value queue_promised_work(napi_env env, const char *name, napi_async_execute_callback execute, napi_async_complete_callback complete, void *data,
                               napi_deferred *deferred, napi_async_work *work) {
  napi_value promise, resource;
  napi_create_promise(env, deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource);
  napi_create_async_work(env, NULL, resource, execute, complete, data, work);
  napi_queue_async_work(env, *work);
  return promise;
}

/* An Error shaped like Node's own fs errors: code, errno, syscall, path. */
napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  char message[PATH_BUF + 128];
  snprintf(message, sizeof message, "%s: %s, %s '%s'", strerror(err), syscall, syscall, path);
  const char *code = NULL;
  switch (err) {
    case EPERM: code = "EPERM"; break;
    case ENOENT: code = "ENOENT"; break;
    case EACCES: code = "EACCES"; break;
    case EEXIST: code = "EEXIST"; break;
    case ENOTDIR: code = "ENOTDIR"; break;
    case EINVAL: code = "EINVAL"; break;
    case ENOSPC: code = "ENOSPC"; break;
    case EROFS: code = "EROFS"; break;
    case ELOOP: code = "ELOOP"; break;
    case EXDEV: code = "EXDEV"; break;
    case EBADF: code = "EBADF"; break;
    case EBUSY: code = "EBUSY"; break;
    case ENODEV: code = "ENODEV"; break;
    case ENAMETOOLONG: code = "ENAMETOOLONG"; break;
    case E2BIG: code = "E2BIG"; break;
    case ERANGE: code = "ERANGE"; break;
    case ENODATA: code = "ENODATA"; break;
    case EOPNOTSUPP: code = "EOPNOTSUPP"; break;
    default: code = "EIO"; break;
  }
  napi_value msg, error, code_value, errno_value, syscall_value, path_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_int32(env, -err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &path_value);
  napi_set_named_property(env, error, "code", code_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_set_named_property(env, error, "path", path_value);
  return error;
}

void throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, errno_error(env, err, syscall, path));
}

int get_string(napi_env env, napi_value value, char *buf, size_t size, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buf, size, &len) != napi_ok) {
    char message[64];
    snprintf(message, sizeof message, "%s must be a string", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  if (len >= size - 1) {
    napi_throw_range_error(env, "ENAMETOOLONG", "argument is too long");
    return 0;
  }
  return 1;
}

/* A path given as a JS string (UTF-8) or a Buffer (its bytes, exactly). */
int get_path(napi_env env, napi_value value, char *buf, size_t size, const char *what) {
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer) return get_string(env, value, buf, size, what);
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, value, &data, &len);
  if (len >= size - 1) {
    napi_throw_range_error(env, "ENAMETOOLONG", "argument is too long");
    return 0;
  }
  if (memchr(data, 0, len) != NULL) {
    char message[64];
    snprintf(message, sizeof message, "%s must not contain a NUL byte", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  memcpy(buf, data, len);
  buf[len] = 0;
  return 1;
}

int get_uint32(napi_env env, napi_value value, uint32_t *out, const char *what) {
  if (napi_get_value_uint32(env, value, out) != napi_ok) {
    char message[64];
    snprintf(message, sizeof message, "%s must be a number", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

/*
 * The call's first `count` arguments, into argv. Fewer throws a TypeError that
 * shows `usage`: a missing argument is a bug in the JS caller, not bad data.
 */
int get_args(napi_env env, napi_callback_info info, napi_value *argv, size_t count, const char *usage) {
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < count) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

int get_buffer(napi_env env, napi_value value, void **data, size_t *length, const char *what) {
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a Buffer", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  napi_get_buffer_info(env, value, data, length);
  return 1;
}

/* mknod(path, mode, major, minor): mode includes the file type bits (S_IFCHR, ...). */
static napi_value Mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, argv, 4, "mknod(path, mode, major, minor)")) return NULL;
  char path[PATH_BUF];
  uint32_t mode, major_num, minor_num;
  if (!get_path(env, argv[0], path, sizeof path, "path") || !get_uint32(env, argv[1], &mode, "mode") ||
      !get_uint32(env, argv[2], &major_num, "major") || !get_uint32(env, argv[3], &minor_num, "minor")) {
    return NULL;
  }
  if (mknod(path, (mode_t)mode, makedev(major_num, minor_num)) != 0) {
    throw_errno(env, errno, "mknod", path);
  }
  return NULL;
}

/* The first two arguments of every xattr call: the path (its link itself, never followed) and the attribute name. */
static int get_xattr_target(napi_env env, const napi_value *argv, char path[PATH_BUF], char name[NAME_BUF]) {
  return get_path(env, argv[0], path, PATH_BUF, "path") && get_string(env, argv[1], name, NAME_BUF, "name");
}

/* lsetxattr(path, name, value: Buffer) */
static napi_value Lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, argv, 3, "lsetxattr(path, name, value)")) return NULL;
  char path[PATH_BUF], name[NAME_BUF];
  if (!get_xattr_target(env, argv, path, name)) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (!get_buffer(env, argv[2], &data, &len, "value")) return NULL;
  if (lsetxattr(path, name, data, len, 0) != 0) {
    throw_errno(env, errno, "lsetxattr", path);
  }
  return NULL;
}

/* lgetxattr(path, name): Buffer, or null when the attribute does not exist. */
static napi_value Lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, argv, 2, "lgetxattr(path, name)")) return NULL;
  char path[PATH_BUF], name[NAME_BUF];
  if (!get_xattr_target(env, argv, path, name)) return NULL;
  napi_value result;
  /* The value can grow between the size query and the read: retry on ERANGE. */
  for (;;) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) {
      if (errno == ENODATA) {
        napi_get_null(env, &result);
        return result;
      }
      throw_errno(env, errno, "lgetxattr", path);
      return NULL;
    }
    void *data = NULL;
    napi_create_buffer(env, (size_t)size, &data, &result);
    ssize_t got = size == 0 ? 0 : lgetxattr(path, name, data, (size_t)size);
    if (got >= 0) {
      if (got < size) napi_create_buffer_copy(env, (size_t)got, data, NULL, &result);
      return result;
    }
    if (errno != ERANGE) {
      throw_errno(env, errno, "lgetxattr", path);
      return NULL;
    }
  }
}

/* llistxattr(path): string[] */
static napi_value Llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, argv, 1, "llistxattr(path)")) return NULL;
  char path[PATH_BUF];
  if (!get_path(env, argv[0], path, sizeof path, "path")) return NULL;
  for (;;) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) {
      throw_errno(env, errno, "llistxattr", path);
      return NULL;
    }
    char *names = malloc(size > 0 ? (size_t)size : 1);
    if (!names) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    ssize_t got = size == 0 ? 0 : llistxattr(path, names, (size_t)size);
    if (got < 0) {
      int err = errno;
      free(names);
      if (err == ERANGE) continue;
      throw_errno(env, err, "llistxattr", path);
      return NULL;
    }
    napi_value result;
    napi_create_array(env, &result);
    uint32_t index = 0;
    for (ssize_t offset = 0; offset < got;) {
      size_t len = strnlen(names + offset, (size_t)(got - offset));
      napi_value name;
      napi_create_string_utf8(env, names + offset, len, &name);
      napi_set_element(env, result, index++, name);
      offset += (ssize_t)len + 1;
    }
    free(names);
    return result;
  }
}

#define DIRECTORY_PATH_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Without openat2: one openat per component, none of them following a symlink. */
static int open_directory_walk(int root_fd, const char *relpath) {
  char copy[PATH_BUF];
  snprintf(copy, sizeof copy, "%s", relpath);
  int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return -1;
  char *save = NULL;
  for (char *component = strtok_r(copy, "/", &save); component; component = strtok_r(NULL, "/", &save)) {
    if (strcmp(component, ".") == 0) continue;
    if (strcmp(component, "..") == 0) {
      close(fd);
      errno = EXDEV;
      return -1;
    }
    int next = openat(fd, component, DIRECTORY_PATH_FLAGS);
    int err = errno;
    close(fd);
    if (next < 0) {
      /* O_PATH|O_NOFOLLOW opens a symlink itself; O_DIRECTORY then refuses it with ENOTDIR. */
      errno = err;
      return -1;
    }
    fd = next;
  }
  return fd;
}

int open_directory_beneath(int root_fd, const char *path) {
  const char *relpath = path[0] == 0 ? "." : path;
  struct open_how how = {
    .flags = DIRECTORY_PATH_FLAGS,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  int fd = (int)syscall(SYS_openat2, root_fd, relpath, &how, sizeof how);
  /* ENOSYS: a kernel before 5.6; EPERM: a seccomp profile that predates openat2 refuses it that way. */
  if (fd < 0 && (errno == ENOSYS || errno == EPERM)) fd = open_directory_walk(root_fd, relpath);
  return fd;
}

/*
 * openDirectoryBeneath(rootFd, relPath): an O_PATH descriptor of the directory
 * at relPath below rootFd, reached without following any symlink and without
 * leaving rootFd (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). A symlink on
 * the way fails (ELOOP, or ENOTDIR without openat2) instead of being followed.
 */
static napi_value OpenDirectoryBeneath(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, argv, 2, "openDirectoryBeneath(rootFd, relPath)")) return NULL;
  uint32_t root_fd;
  char path[PATH_BUF];
  if (!get_uint32(env, argv[0], &root_fd, "rootFd") || !get_path(env, argv[1], path, sizeof path, "relPath")) return NULL;
  int fd = open_directory_beneath((int)root_fd, path);
  if (fd < 0) {
    throw_errno(env, errno, "openat2", path);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/*
 * dataRegions(fd): the [offset, length] pairs of the file's data, found with
 * lseek SEEK_DATA/SEEK_HOLE, so holes need not be read. A file system without
 * hole support reports one region, the whole file.
 */
static napi_value DataRegions(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t fd;
  if (!get_args(env, info, argv, 1, "dataRegions(fd)") || !get_uint32(env, argv[0], &fd, "fd")) return NULL;
  struct stat st;
  if (fstat((int)fd, &st) != 0) {
    throw_errno(env, errno, "fstat", "");
    return NULL;
  }
  napi_value result;
  napi_create_array(env, &result);
  uint32_t index = 0;
  for (off_t offset = 0; offset < st.st_size;) {
    off_t data = lseek((int)fd, offset, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* only a hole is left */
      throw_errno(env, errno, "lseek", "");
      return NULL;
    }
    off_t hole = lseek((int)fd, data, SEEK_HOLE);
    if (hole < 0) {
      throw_errno(env, errno, "lseek", "");
      return NULL;
    }
    if (hole > st.st_size) hole = st.st_size;
    napi_value pair, start, length;
    napi_create_array_with_length(env, 2, &pair);
    napi_create_double(env, (double)data, &start);
    napi_create_double(env, (double)(hole - data), &length);
    napi_set_element(env, pair, 0, start);
    napi_set_element(env, pair, 1, length);
    napi_set_element(env, result, index++, pair);
    offset = hole;
  }
  return result;
}



static napi_value Init(napi_env env, napi_value exports) {
  napi_value page_size;
  napi_create_uint32(env, (uint32_t)sysconf(_SC_PAGESIZE), &page_size);
  napi_property_descriptor properties[] = {
    {"pageSize", NULL, NULL, NULL, NULL, page_size, napi_enumerable, NULL},
    {"mknod", NULL, Mknod, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, Lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lgetxattr", NULL, Lgetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"llistxattr", NULL, Llistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"openDirectoryBeneath", NULL, OpenDirectoryBeneath, NULL, NULL, NULL, napi_default, NULL},
    {"dataRegions", NULL, DataRegions, NULL, NULL, NULL, napi_default, NULL},
    {"seqpacketConnect", NULL, SeqpacketConnect, NULL, NULL, NULL, napi_default, NULL},
    {"shutdownSocket", NULL, ShutdownSocket, NULL, NULL, NULL, napi_default, NULL},
    {"listDirectory", NULL, ListDirectory, NULL, NULL, NULL, napi_default, NULL},
    {"listDirectoryAsync", NULL, ListDirectoryAsync, NULL, NULL, NULL, napi_default, NULL},
    {"readFile", NULL, ReadFile, NULL, NULL, NULL, napi_default, NULL},
    {"readFiles", NULL, ReadFiles, NULL, NULL, NULL, napi_default, NULL},
    {"sha256Stream", NULL, Sha256Stream, NULL, NULL, NULL, napi_default, NULL},
    {"sha256Update", NULL, Sha256Update, NULL, NULL, NULL, napi_default, NULL},
    {"sha256Digest", NULL, Sha256Digest, NULL, NULL, NULL, napi_default, NULL},
    {"blockDigests", NULL, BlockDigestsOf, NULL, NULL, NULL, napi_default, NULL},
    {"createFiles", NULL, CreateFiles, NULL, NULL, NULL, napi_default, NULL},
    {"mount", NULL, Mount, NULL, NULL, NULL, napi_default, NULL},
    {"mountFrom", NULL, MountFrom, NULL, NULL, NULL, napi_default, NULL},
    {"unmount", NULL, Unmount, NULL, NULL, NULL, napi_default, NULL},
    {"mountNewNetns", NULL, MountNewNetns, NULL, NULL, NULL, napi_default, NULL},
    {"runProcess", NULL, RunProcess, NULL, NULL, NULL, napi_default, NULL},
    {"spawnDetached", NULL, SpawnDetached, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

/* conmon's attach socket: SOCK_SEQPACKET, which Node's net module cannot open. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>
#include "fsnative.h"

/*
 * seqpacketConnect(path): a connected, blocking SOCK_SEQPACKET socket's fd.
 * The address goes through /proc/self/fd/N of the socket's directory, so a
 * path longer than sun_path (108 bytes) still connects, as conmon binds it.
 */
napi_value SeqpacketConnect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_BUF];
  if (!get_args(env, info, argv, 1, "seqpacketConnect(path)") || !get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  char dir[PATH_BUF];
  memcpy(dir, path, sizeof dir);
  char *slash = strrchr(dir, '/');
  if (slash == NULL || slash[1] == '\0') {
    throw_errno(env, EINVAL, "connect", path);
    return NULL;
  }
  const char *base = path + (slash - dir) + 1;
  if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    throw_errno(env, errno, "open", dir);
    return NULL;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int n = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd, base);
  if (n < 0 || (size_t)n >= sizeof addr.sun_path) {
    close(dirfd);
    throw_errno(env, ENAMETOOLONG, "connect", path);
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    close(dirfd);
    throw_errno(env, err, "socket", path);
    return NULL;
  }
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    close(dirfd);
    throw_errno(env, err, "connect", path);
    return NULL;
  }
  close(dirfd);
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/*
 * shutdownSocket(fd, both): end of input for the peer (conmon then closes the
 * container's stdin); with both, also ends a read blocked on the socket.
 */
napi_value ShutdownSocket(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t fd = 0;
  bool both = false;
  if (!get_args(env, info, argv, 2, "shutdownSocket(fd, both)") || !get_uint32(env, argv[0], &fd, "fd")) return NULL;
  if (napi_get_value_bool(env, argv[1], &both) != napi_ok) {
    napi_throw_type_error(env, NULL, "both must be a boolean");
    return NULL;
  }
  if (shutdown((int)fd, both ? SHUT_RDWR : SHUT_WR) < 0) throw_errno(env, errno, "shutdown", "");
  return NULL;
}

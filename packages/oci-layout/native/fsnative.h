/* What fsnative.c, smallFiles.c, smallFileWrites.c, mounts.c, attachSocket.c, processRun.c and daemonSpawn.c share: argument and error helpers, and the functions Init exports. */
#ifndef FSNATIVE_H
#define FSNATIVE_H
#include <node_api.h>

#define PATH_BUF 4096

/* An Error shaped like Node's own fs errors: code, errno, syscall, path; throw_errno throws it. */
napi_value errno_error(napi_env env, int err, const char *syscall, const char *path);
void throw_errno(napi_env env, int err, const char *syscall, const char *path);
/* A path given as a JS string (UTF-8) or a Buffer (its bytes, exactly); 0 after throwing. */
/* A JS string argument (UTF-8) into buf; 0 after throwing. */
int get_string(napi_env env, napi_value value, char *buf, size_t size, const char *what);
/* A number argument as a uint32; 0 after throwing a TypeError naming `what`. */
int get_uint32(napi_env env, napi_value value, uint32_t *out, const char *what);
int get_path(napi_env env, napi_value value, char *buf, size_t size, const char *what);
/* The call's first `count` arguments, into argv; fewer throws a TypeError showing `usage` (0 after throwing). */
int get_args(napi_env env, napi_callback_info info, napi_value *argv, size_t count, const char *usage);
/* A Buffer argument's bytes; anything else throws a TypeError naming `what` (0 after throwing). */
int get_buffer(napi_env env, napi_value value, void **data, size_t *length, const char *what);
/* A JS string (as UTF-8) or Buffer (its bytes) argument as a malloc'd C string (NULs inside kept), its length in *length; NULL if it is neither. */
char *malloc_string(napi_env env, napi_value value, size_t *length);
/* A promise for work `execute` does on libuv's pool and `complete` settles through *deferred (its async work kept in *work). */
/*
 * An O_PATH descriptor of the directory `path` below `root_fd` ("" is root_fd itself), reached
 * without following any symlink and without leaving root_fd (see openDirectoryBeneath); -1 and errno.
 */
int open_directory_beneath(int root_fd, const char *path);
/* Rejects `deferred` with an Error of `message`. */
void reject_with_message(napi_env env, napi_deferred deferred, const char *message);
napi_value queue_promised_work(napi_env env, const char *name, napi_async_execute_callback execute, napi_async_complete_callback complete, void *data,
                               napi_deferred *deferred, napi_async_work *work);

void sha256_slots(const char *data, const size_t *slots, double *results, size_t count, unsigned char *digests);
napi_value Sha256Stream(napi_env env, napi_callback_info info);
napi_value Sha256Update(napi_env env, napi_callback_info info);
napi_value Sha256Digest(napi_env env, napi_callback_info info);
napi_value BlockDigestsOf(napi_env env, napi_callback_info info);
napi_value ListDirectory(napi_env env, napi_callback_info info);
napi_value ListDirectoryAsync(napi_env env, napi_callback_info info);
napi_value ReadFile(napi_env env, napi_callback_info info);
napi_value ReadFiles(napi_env env, napi_callback_info info);
napi_value CreateFiles(napi_env env, napi_callback_info info);
napi_value Mount(napi_env env, napi_callback_info info);
napi_value MountFrom(napi_env env, napi_callback_info info);
napi_value Unmount(napi_env env, napi_callback_info info);
napi_value MountNewNetns(napi_env env, napi_callback_info info);
napi_value SeqpacketConnect(napi_env env, napi_callback_info info);
napi_value ShutdownSocket(napi_env env, napi_callback_info info);
napi_value RunProcess(napi_env env, napi_callback_info info);
napi_value SpawnDetached(napi_env env, napi_callback_info info);

#endif

/*
 * mount(2) and umount2(2) for the overlays of RUN steps and containers, and
 * a new network namespace bind-mounted on a file, without an exec of
 * mount(8), umount(8) or unshare(1) per call (each cost a fork of the whole
 * Node process and ~20 ms). They run on libuv's thread pool: unmounting an
 * overlay may sync the file system under its upper directory for seconds.
 * A mount may also resolve its relative paths from a directory of its own
 * choosing (mountFrom): how a deep image's lowerdir list fits in a page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include <node_api.h>
#include "fsnative.h"

typedef enum { DO_MOUNT, DO_MOUNT_FROM, DO_UNMOUNT, DO_NETNS } MountAction;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  MountAction action;
  /* DO_MOUNT_FROM's working directory. */
  char *base;
  char *source;
  char *target;
  char *fstype;
  char *data;
  unsigned long flags;
  int error;
  /* Which call failed when it is not the action's own (DO_MOUNT_FROM's unshare or chdir, on `base`). */
  const char *failed_syscall;
} MountJob;

/*
 * On a thread of its own, which ends right after: a namespace belongs to the
 * thread that unshared it, and a pool thread left in it would do later
 * lookups (getaddrinfo runs on the pool) in an empty network.
 */
static void *netns_thread(void *arg) {
  MountJob *job = arg;
  if (unshare(CLONE_NEWNET) < 0 || mount("/proc/thread-self/ns/net", job->target, NULL, MS_BIND, NULL) < 0) job->error = errno;
  return NULL;
}

/*
 * On a thread of its own too, which ends right after: unshare(CLONE_FS)
 * gives it a working directory apart from the process's (Node's, shared by
 * every other thread), so the chdir moves nobody else's.
 */
static void *mount_from_thread(void *arg) {
  MountJob *job = arg;
  if (unshare(CLONE_FS) < 0) job->failed_syscall = "unshare";
  else if (chdir(job->base) < 0) job->failed_syscall = "chdir";
  else if (mount(job->source, job->target, job->fstype, job->flags, job->data) == 0) return NULL;
  job->error = errno;
  return NULL;
}

/* Runs `body` on a new thread and waits for it. */
static void run_on_own_thread(MountJob *job, void *(*body)(void *)) {
  pthread_t thread;
  int err = pthread_create(&thread, NULL, body, job);
  if (err != 0) job->error = err;
  else pthread_join(thread, NULL);
}

static void mount_job_execute(napi_env env, void *arg) {
  (void)env;
  MountJob *job = arg;
  int result = 0;
  switch (job->action) {
    case DO_MOUNT: result = mount(job->source, job->target, job->fstype, job->flags, job->data); break;
    case DO_UNMOUNT: result = umount2(job->target, (int)job->flags); break;
    case DO_MOUNT_FROM: run_on_own_thread(job, mount_from_thread); return;
    case DO_NETNS: run_on_own_thread(job, netns_thread); return;
  }
  job->error = result < 0 ? errno : 0;
}

static void mount_job_free(napi_env env, MountJob *job) {
  free(job->base);
  free(job->source);
  free(job->target);
  free(job->fstype);
  free(job->data);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job);
}

static void mount_job_complete(napi_env env, napi_status status, void *arg) {
  MountJob *job = arg;
  const char *syscall = job->action == DO_UNMOUNT ? "umount" : job->action == DO_NETNS ? "unshare" : "mount";
  if (status != napi_ok) {
    napi_reject_deferred(env, job->deferred, errno_error(env, ECANCELED, syscall, job->target));
  } else if (job->failed_syscall != NULL) {
    napi_reject_deferred(env, job->deferred, errno_error(env, job->error, job->failed_syscall, job->base));
  } else if (job->error != 0) {
    napi_reject_deferred(env, job->deferred, errno_error(env, job->error, syscall, job->target));
  } else {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, job->deferred, undefined);
  }
  mount_job_free(env, job);
}

static napi_value queue_job(napi_env env, MountJob *job) {
  return queue_promised_work(env, "tsbuild:mount", mount_job_execute, mount_job_complete, job, &job->deferred, &job->work);
}

/* A string argument as a malloc'd C string; NULL (nothing thrown) if it is not one or has a NUL inside. */
static char *whole_string(napi_env env, napi_value value) {
  size_t length = 0;
  char *s = malloc_string(env, value, &length);
  // A NUL inside would make the kernel see a shorter string than the caller gave.
  if (s != NULL && strlen(s) != length) {
    free(s);
    return NULL;
  }
  return s;
}

/*
 * A job for `action` on the string `target`, and its `flags` argument unless
 * that is NULL; NULL after throwing a TypeError that shows `usage`.
 */
static MountJob *new_job(napi_env env, MountAction action, napi_value target, napi_value flags, const char *usage) {
  MountJob *job = calloc(1, sizeof *job);
  uint32_t raw = 0;
  const char *wrong = NULL;
  job->action = action;
  job->target = whole_string(env, target);
  if (job->target == NULL) wrong = "target must be a string without NUL bytes";
  else if (flags != NULL && napi_get_value_uint32(env, flags, &raw) != napi_ok) wrong = "flags must be a number";
  if (wrong != NULL) {
    char message[160];
    snprintf(message, sizeof message, "%s: %s", usage, wrong);
    mount_job_free(env, job);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  job->flags = raw;
  return job;
}

/*
 * The job of mount(source, target, fstype, flags, data) from argv, or NULL
 * after throwing a TypeError that shows `usage`.
 */
static MountJob *new_mount_job(napi_env env, MountAction action, napi_value *argv, const char *usage) {
  MountJob *job = new_job(env, action, argv[1], argv[3], usage);
  if (job == NULL) return NULL;
  job->source = whole_string(env, argv[0]);
  job->fstype = whole_string(env, argv[2]);
  job->data = whole_string(env, argv[4]);
  if (job->source == NULL || job->fstype == NULL || job->data == NULL) {
    char message[200];
    snprintf(message, sizeof message, "%s: source, fstype and data must be strings without NUL bytes", usage);
    mount_job_free(env, job);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  return job;
}

/*
 * The promise of `job`: queued, or, when its `data` is longer than the one
 * page the kernel copies, rejected with E2BIG (like the kernel's own errors)
 * without a call. The kernel would mount what it got: an overlay cut before
 * its upperdir mounts read-only over fewer lowers.
 */
static napi_value queue_mount_job(napi_env env, MountJob *job) {
  if (strlen(job->data) < (size_t)sysconf(_SC_PAGESIZE)) return queue_job(env, job);
  napi_value promise;
  napi_create_promise(env, &job->deferred, &promise);
  napi_reject_deferred(env, job->deferred, errno_error(env, E2BIG, "mount", job->target));
  mount_job_free(env, job);
  return promise;
}

/* mount(source, target, fstype, flags, data): a promise, rejected with an fs-style error. */
napi_value Mount(napi_env env, napi_callback_info info) {
  const char *usage = "mount(source, target, fstype, flags, data)";
  napi_value argv[5];
  if (!get_args(env, info, argv, 5, usage)) return NULL;
  MountJob *job = new_mount_job(env, DO_MOUNT, argv, usage);
  return job == NULL ? NULL : queue_mount_job(env, job);
}

/*
 * mountFrom(dir, source, target, fstype, flags, data): mount() with relative
 * paths in its arguments resolved from the directory `dir` (a chdir on a
 * thread of its own: the process's working directory does not move).
 */
napi_value MountFrom(napi_env env, napi_callback_info info) {
  const char *usage = "mountFrom(dir, source, target, fstype, flags, data)";
  napi_value argv[6];
  if (!get_args(env, info, argv, 6, usage)) return NULL;
  MountJob *job = new_mount_job(env, DO_MOUNT_FROM, argv + 1, usage);
  if (job == NULL) return NULL;
  job->base = whole_string(env, argv[0]);
  if (job->base == NULL) {
    mount_job_free(env, job);
    char message[200];
    snprintf(message, sizeof message, "%s: dir must be a string without NUL bytes", usage);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  return queue_mount_job(env, job);
}

/* unmount(target, flags): umount2 as a promise; flags as umount2's (MNT_DETACH is 2). */
napi_value Unmount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, argv, 2, "unmount(target, flags)")) return NULL;
  MountJob *job = new_job(env, DO_UNMOUNT, argv[0], argv[1], "unmount(target, flags)");
  return job == NULL ? NULL : queue_job(env, job);
}

/*
 * mountNewNetns(target): a promise. A new network namespace (only a down
 * `lo` in it) bind-mounted on the existing file `target`, which pins it
 * there, as `unshare --net=TARGET true` and `ip netns add` do.
 */
napi_value MountNewNetns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, argv, 1, "mountNewNetns(target)")) return NULL;
  MountJob *job = new_job(env, DO_NETNS, argv[0], NULL, "mountNewNetns(target)");
  return job == NULL ? NULL : queue_job(env, job);
}

/*
 * spawnDetached: a daemon (conmon) started without forking the Node process,
 * as runProcess starts its tools (processRun.c), its pipes handed to JS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>
#include "fsnative.h"
#include "processSpawn.h"

static void *reap_thread(void *arg) {
  pid_t pid = (pid_t)(intptr_t)arg;
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  return NULL;
}

/* Closes what is open of `fds` (count of them); -1 marks a closed one. */
static void close_all(int *fds, int count) {
  for (int i = 0; i < count; i++) close_fd(&fds[i]);
}

#define MAX_EXTRA_PIPES 8

/*
 * spawnDetached(argv, env, cwd, ends): { pid, stderr, fds } at once (posix_spawn
 * holds this thread only until the child has exec'd). The child gets /dev/null
 * as stdin and stdout, a pipe as stderr, a session of its own, default signal
 * dispositions, and one pipe per entry of `ends` as fd 3, 4, ...: "read" when
 * we read what it writes, "write" when we write what it reads. `stderr` and
 * `fds` are our ends (close-on-exec). The child is reaped when it exits (a
 * daemon's first process exits at once).
 */
napi_value SpawnDetached(napi_env env, napi_callback_info info) {
  const char *usage = "spawnDetached(argv, env, cwd, ends)";
  napi_value argv[4];
  if (!get_args(env, info, argv, 4, usage)) return NULL;
  char **args = string_array(env, argv[0]);
  char **envp = string_array(env, argv[1]);
  char cwd[PATH_BUF];
  uint32_t count = 0;
  if (args == NULL || args[0] == NULL || envp == NULL || napi_get_array_length(env, argv[3], &count) != napi_ok || count > MAX_EXTRA_PIPES) {
    free_strings(args);
    free_strings(envp);
    napi_throw_type_error(env, NULL, "spawnDetached(argv, env, cwd, ends): argv (not empty) and env must be arrays of strings without NUL bytes, ends an array of at most 8");
    return NULL;
  }
  if (!get_path(env, argv[2], cwd, sizeof cwd, "cwd")) {
    free_strings(args);
    free_strings(envp);
    return NULL;
  }
  /* ours[i] is our end, theirs[i] the child's (copied to fd 10 or above, so no dup2 onto fds 2..10 can clobber one); [0] is stderr. */
  int ours[MAX_EXTRA_PIPES + 1], theirs[MAX_EXTRA_PIPES + 1];
  int pipes = (int)count + 1, err = 0;
  const char *failed = NULL;
  for (int i = 0; i < pipes; i++) ours[i] = theirs[i] = -1;
  for (int i = 0; i < pipes && failed == NULL; i++) {
    int read_by_us = 1;
    if (i > 0) {
      napi_value end;
      char what[8] = "";
      napi_get_element(env, argv[3], (uint32_t)i - 1, &end);
      if (!get_string(env, end, what, sizeof what, "ends[i]")) {
        close_all(ours, pipes);
        close_all(theirs, pipes);
        free_strings(args);
        free_strings(envp);
        return NULL;
      }
      read_by_us = strcmp(what, "write") != 0;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
      err = errno;
      failed = "pipe";
      break;
    }
    ours[i] = read_by_us ? fds[0] : fds[1];
    int child_end = read_by_us ? fds[1] : fds[0];
    theirs[i] = fcntl(child_end, F_DUPFD_CLOEXEC, 10);
    close(child_end);
    if (theirs[i] < 0) {
      err = errno;
      failed = "fcntl";
    }
  }
  pid_t pid = 0;
  if (failed == NULL) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, theirs[0], 2);
    for (int i = 1; i < pipes; i++) posix_spawn_file_actions_adddup2(&actions, theirs[i], 2 + i);
    posix_spawn_file_actions_addchdir_np(&actions, cwd);
    init_spawn_attr(&attr, POSIX_SPAWN_SETSID);
    int spawned = posix_spawnp(&pid, args[0], &actions, &attr, args, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (spawned != 0) {
      err = spawned;
      failed = "spawn";
    }
  }
  close_all(theirs, pipes);
  if (failed != NULL) {
    char syscall[PATH_BUF];
    snprintf(syscall, sizeof syscall, "%s %s", failed, args[0]);
    close_all(ours, pipes);
    napi_throw(env, errno_error(env, err, syscall, args[0]));
    free_strings(args);
    free_strings(envp);
    return NULL;
  }
  free_strings(args);
  free_strings(envp);
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // Without a reaper the exited first process would stay a zombie for as long as we run.
  pthread_create(&thread, &attr, reap_thread, (void *)(intptr_t)pid);
  pthread_attr_destroy(&attr);
  napi_value result, pid_value, stderr_value, fds;
  napi_create_object(env, &result);
  napi_create_int32(env, pid, &pid_value);
  napi_create_int32(env, ours[0], &stderr_value);
  napi_create_array_with_length(env, (size_t)count, &fds);
  for (int i = 1; i < pipes; i++) {
    napi_value fd;
    napi_create_int32(env, ours[i], &fd);
    napi_set_element(env, fds, (uint32_t)i - 1, fd);
  }
  napi_set_named_property(env, result, "pid", pid_value);
  napi_set_named_property(env, result, "stderr", stderr_value);
  napi_set_named_property(env, result, "fds", fds);
  return result;
}

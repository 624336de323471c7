/*
 * runProcess: a short tool run (runc start/state/delete, a CNI plugin) from
 * spawn to exit without forking the Node process. libuv's spawn is a fork of
 * the whole process, page tables and all, and the main thread waits for the
 * child's exec: 5-10 ms per call, and a bridge container makes about ten.
 * posix_spawn (vfork-like: the child borrows our memory until it execs) on a
 * thread of its own costs the main thread nothing. The thread also feeds
 * stdin, collects stdout and stderr, enforces the deadline and reaps the
 * child (libuv reaps only the PIDs it spawned).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>
#include "fsnative.h"
#include "processSpawn.h"

/* More output than any tool we run writes; past it the child is killed, not our memory filled. */
#define OUTPUT_LIMIT (16u << 20)

typedef struct {
  char *data;
  size_t length;
  size_t capacity;
} Bytes;

typedef struct {
  napi_deferred deferred;
  napi_threadsafe_function done;
  char **argv;
  char **envp;
  void *input;
  size_t input_length;
  uint32_t timeout_ms;
  Bytes out;
  Bytes err;
  int status;
  int timed_out;
  int overflowed;
  int error;
  const char *failed;
} ProcessJob;

void free_strings(char **strings) {
  if (strings == NULL) return;
  for (char **s = strings; *s != NULL; s++) free(*s);
  free(strings);
}

static void job_free(ProcessJob *job) {
  free_strings(job->argv);
  free_strings(job->envp);
  free(job->input);
  free(job->out.data);
  free(job->err.data);
  free(job);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends what `fd` has; 0 at end of file, -1 with errno after a failure (EAGAIN: nothing yet). */
static int drain(int fd, Bytes *bytes, int *overflowed) {
  char chunk[16384];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n <= 0) return (int)n;
  if (bytes->length + (size_t)n > OUTPUT_LIMIT) {
    *overflowed = 1;
    return 1;
  }
  if (bytes->length + (size_t)n > bytes->capacity) {
    size_t capacity = bytes->capacity ? bytes->capacity * 2 : sizeof chunk;
    while (capacity < bytes->length + (size_t)n) capacity *= 2;
    char *grown = realloc(bytes->data, capacity);
    if (grown == NULL) {
      errno = ENOMEM;
      return -1;
    }
    bytes->data = grown;
    bytes->capacity = capacity;
  }
  memcpy(bytes->data + bytes->length, chunk, (size_t)n);
  bytes->length += (size_t)n;
  return 1;
}

void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Feeds stdin, reads stdout and stderr, until the child has exited and closed both, or the deadline. */
static void supervise(ProcessJob *job, pid_t pid, int in, int out, int err) {
  int exited_fd = (int)syscall(SYS_pidfd_open, pid, 0);
  int exited = 0;
  size_t written = 0;
  long long deadline = now_ms() + job->timeout_ms;
  if (exited_fd < 0) {
    job->error = errno;
    job->failed = "pidfd_open";
  }
  if (job->input_length == 0) close_fd(&in);
  while (exited_fd >= 0 && !(exited && out < 0 && err < 0)) {
    struct pollfd fds[4] = {{in, POLLOUT, 0}, {out, POLLIN, 0}, {err, POLLIN, 0}, {exited ? -1 : exited_fd, POLLIN, 0}};
    long long left = deadline - now_ms();
    if (left <= 0 || job->overflowed) {
      job->timed_out = !job->overflowed;
      break;
    }
    if (poll(fds, 4, (int)left) < 0) {
      if (errno == EINTR) continue;
      job->error = errno;
      job->failed = "poll";
      break;
    }
    if (fds[0].revents) {
      ssize_t n = write(in, (char *)job->input + written, job->input_length - written);
      // EPIPE: the child closed its stdin unread (Node ignores SIGPIPE, so this is an error, not a signal).
      if (n < 0 && errno != EAGAIN) close_fd(&in);
      if (n > 0 && (written += (size_t)n) == job->input_length) close_fd(&in);
    }
    int *readers[2] = {&out, &err};
    Bytes *sinks[2] = {&job->out, &job->err};
    for (int i = 0; i < 2; i++) {
      if (!fds[i + 1].revents) continue;
      int got = drain(*readers[i], sinks[i], &job->overflowed);
      if (got == 0 || (got < 0 && errno != EAGAIN)) close_fd(readers[i]);
    }
    if (fds[3].revents) exited = 1;
  }
  if (!exited) kill(pid, SIGKILL);
  while (waitpid(pid, &job->status, 0) < 0 && errno == EINTR) {}
  close_fd(&in);
  close_fd(&out);
  close_fd(&err);
  if (exited_fd >= 0) close(exited_fd);
}

/*
 * Spawn attributes with no signal blocked and every signal at its default: Node ignores
 * SIGPIPE, and an ignored signal stays ignored across exec. `flags` adds to those two.
 */
void init_spawn_attr(posix_spawnattr_t *attr, short flags) {
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  posix_spawnattr_init(attr);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setsigdefault(attr, &defaults);
  posix_spawnattr_setflags(attr, (short)(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags));
}

static void run(ProcessJob *job) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    job->error = errno;
    job->failed = "pipe";
  } else {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    init_spawn_attr(&attr, 0);
    pid_t pid;
    int spawned = posix_spawnp(&pid, job->argv[0], &actions, &attr, job->argv, job->envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    if (spawned != 0) {
      job->error = spawned;
      job->failed = "spawn";
    } else {
      fcntl(in[1], F_SETFL, O_NONBLOCK);
      fcntl(out[0], F_SETFL, O_NONBLOCK);
      fcntl(err[0], F_SETFL, O_NONBLOCK);
      supervise(job, pid, in[1], out[0], err[0]);
      return;
    }
  }
  for (int i = 0; i < 2; i++) {
    close_fd(&in[i]);
    close_fd(&out[i]);
    close_fd(&err[i]);
  }
}

static void *process_thread(void *arg) {
  ProcessJob *job = arg;
  // settle() frees the job on the JS thread, possibly before the call below returns.
  napi_threadsafe_function done = job->done;
  run(job);
  napi_call_threadsafe_function(done, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

static napi_value buffer_of(napi_env env, const Bytes *bytes) {
  napi_value buffer;
  napi_create_buffer_copy(env, bytes->length, bytes->length ? bytes->data : "", NULL, &buffer);
  return buffer;
}

/* On the JS thread: { status, signal, stdout, stderr, timedOut, overflowed }, or the spawn's error. */
static void settle(napi_env env, napi_value callback, void *context, void *data) {
  (void)callback;
  (void)context;
  ProcessJob *job = data;
  if (env == NULL) {
    // The environment is going away (the process exits): nobody is left to tell.
    job_free(job);
    return;
  }
  if (job->failed != NULL) {
    char syscall[PATH_BUF];
    snprintf(syscall, sizeof syscall, "%s %s", job->failed, job->argv[0]);
    napi_reject_deferred(env, job->deferred, errno_error(env, job->error, syscall, job->argv[0]));
  } else {
    napi_value result, status, signal, timed_out, overflowed;
    napi_get_null(env, &status);
    napi_get_null(env, &signal);
    if (WIFEXITED(job->status)) napi_create_uint32(env, (uint32_t)WEXITSTATUS(job->status), &status);
    else if (WIFSIGNALED(job->status)) napi_create_uint32(env, (uint32_t)WTERMSIG(job->status), &signal);
    napi_get_boolean(env, job->timed_out, &timed_out);
    napi_get_boolean(env, job->overflowed, &overflowed);
    napi_create_object(env, &result);
    napi_set_named_property(env, result, "status", status);
    napi_set_named_property(env, result, "signal", signal);
    napi_set_named_property(env, result, "stdout", buffer_of(env, &job->out));
    napi_set_named_property(env, result, "stderr", buffer_of(env, &job->err));
    napi_set_named_property(env, result, "timedOut", timed_out);
    napi_set_named_property(env, result, "overflowed", overflowed);
    napi_resolve_deferred(env, job->deferred, result);
  }
  job_free(job);
}

/* A JS array of strings (or Buffers) as a NULL-terminated C array; NULL if it is not one, or a string holds a NUL. */
char **string_array(napi_env env, napi_value value) {
  uint32_t count;
  if (napi_get_array_length(env, value, &count) != napi_ok) return NULL;
  char **strings = calloc((size_t)count + 1, sizeof *strings);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    size_t length = 0;
    napi_get_element(env, value, i, &item);
    strings[i] = malloc_string(env, item, &length);
    if (strings[i] == NULL || strlen(strings[i]) != length) {
      free_strings(strings);
      return NULL;
    }
  }
  return strings;
}

/*
 * runProcess(argv, env, input, timeoutMs): a promise of the child's end. argv[0] is looked up on
 * this process's $PATH; env is the child's whole environment ("NAME=value" strings); input (a
 * Buffer) is its stdin, then end of file.
 */
napi_value RunProcess(napi_env env, napi_callback_info info) {
  const char *usage = "runProcess(argv, env, input, timeoutMs)";
  napi_value argv[4];
  if (!get_args(env, info, argv, 4, usage)) return NULL;
  ProcessJob *job = calloc(1, sizeof *job);
  void *input = NULL;
  size_t input_length = 0;
  job->argv = string_array(env, argv[0]);
  job->envp = string_array(env, argv[1]);
  if (job->argv == NULL || job->argv[0] == NULL || job->envp == NULL) {
    job_free(job);
    napi_throw_type_error(env, NULL, "runProcess(argv, env, input, timeoutMs): argv (not empty) and env must be arrays of strings without NUL bytes");
    return NULL;
  }
  if (!get_buffer(env, argv[2], &input, &input_length, "input") || !get_uint32(env, argv[3], &job->timeout_ms, "timeoutMs")) {
    job_free(job);
    return NULL;
  }
  if (input_length > 0) {
    job->input = malloc(input_length);
    memcpy(job->input, input, input_length);
    job->input_length = input_length;
  }
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "tsbuild:runProcess", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, settle, &job->done);
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int failed = pthread_create(&thread, &attr, process_thread, job);
  pthread_attr_destroy(&attr);
  if (failed != 0) {
    napi_release_threadsafe_function(job->done, napi_tsfn_release);
    napi_reject_deferred(env, job->deferred, errno_error(env, failed, "pthread_create", job->argv[0]));
    job_free(job);
  }
  return promise;
}

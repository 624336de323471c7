/* What processRun.c shares with daemonSpawn.c: both posix_spawn children with the same attributes and argument checks. */
#ifndef PROCESS_SPAWN_H
#define PROCESS_SPAWN_H
#include <spawn.h>
#include <node_api.h>

/* A JS array of strings (or Buffers) as a NULL-terminated C array; NULL if it is not one, or a string holds a NUL. */
char **string_array(napi_env env, napi_value value);
void free_strings(char **strings);
/* Closes *fd if open and marks it closed (-1). */
void close_fd(int *fd);
/* Spawn attributes: no signal blocked, every signal at its default, plus `flags`. */
void init_spawn_attr(posix_spawnattr_t *attr, short flags);

#endif

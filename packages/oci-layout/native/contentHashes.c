/*
 * SHA-256 from the OpenSSL inside node (its symbols are the process's), for
 * work already on libuv's thread pool: a context's small files are hashed
 * there while their bytes are in the cache, not one by one on the main thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <zlib.h>
#include <node_api.h>
#include "fsnative.h"

/* Fetched once: an implicit fetch on every init costs more than hashing a small file. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void) {
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * For each of `count` slots of `data` (slot i starts at slots[i]) whose
 * results[i] is a byte count (not -errno), the SHA-256 of that many bytes
 * into digests + 32 * i; a slot that cannot be hashed gets results[i] = -ENOMEM.
 */
void sha256_slots(const char *data, const size_t *slots, double *results, size_t count, unsigned char *digests) {
  pthread_once(&sha256_once, fetch_sha256);
  const EVP_MD *md = sha256_md != NULL ? sha256_md : EVP_sha256();
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  for (size_t i = 0; i < count; i++) {
    if (results[i] < 0) continue;
    if (ctx == NULL || !EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, data + slots[i], (size_t)results[i])
        || !EVP_DigestFinal_ex(ctx, digests + 32 * i, NULL)) {
      results[i] = -ENOMEM;
    }
  }
  EVP_MD_CTX_free(ctx);
}

/*
 * A SHA-256 fed on the pool: a layer's diff_id and blob digest (a few hundred
 * MB of a big COPY) are hashed beside the main thread, not on it.
 *   sha256Stream(): a new hash, as an external
 *   sha256Update(hash, buffers): a promise, settled once the buffers are
 *     hashed in order on the pool. One update at a time per hash: the caller
 *     waits for each before the next.
 *   sha256Digest(hash): the 32-byte digest; the hash is spent
 */
typedef struct {
  EVP_MD_CTX *ctx;
  int busy; /* an update is on the pool */
  int spent;
} Sha256State;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref hash;    /* keeps the state alive while the pool uses it */
  napi_ref buffers; /* keeps the bytes alive */
  Sha256State *state;
  size_t count;
  const unsigned char **data;
  size_t *lengths;
  int failed;
} HashUpdate;

static void sha256_state_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Sha256State *state = data;
  EVP_MD_CTX_free(state->ctx);
  free(state);
}

napi_value Sha256Stream(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_once(&sha256_once, fetch_sha256);
  Sha256State *state = calloc(1, sizeof *state);
  if (state != NULL) state->ctx = EVP_MD_CTX_new();
  if (state == NULL || state->ctx == NULL || !EVP_DigestInit_ex(state->ctx, sha256_md != NULL ? sha256_md : EVP_sha256(), NULL)) {
    if (state != NULL) sha256_state_free(env, state, NULL);
    napi_throw_range_error(env, "ENOMEM", "sha256Stream: cannot make a hash");
    return NULL;
  }
  napi_value external;
  napi_create_external(env, state, sha256_state_free, NULL, &external);
  return external;
}

/* The call's first `count` arguments, the first a hash neither spent nor being updated; NULL after throwing `usage`. */
static Sha256State *hash_arguments(napi_env env, napi_callback_info info, napi_value *argv, size_t count, const char *usage) {
  if (!get_args(env, info, argv, count, usage)) return NULL;
  napi_valuetype type = napi_undefined;
  napi_typeof(env, argv[0], &type);
  void *data = NULL;
  if (type == napi_external) napi_get_value_external(env, argv[0], &data);
  Sha256State *state = data;
  if (state == NULL || state->spent || state->busy) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return state;
}

static void sha256_update_free(HashUpdate *update) {
  free(update->data);
  free(update->lengths);
  free(update);
}

static void sha256_update_execute(napi_env env, void *arg) {
  (void)env;
  HashUpdate *update = arg;
  for (size_t i = 0; i < update->count && !update->failed; i++) {
    if (!EVP_DigestUpdate(update->state->ctx, update->data[i], update->lengths[i])) update->failed = 1;
  }
}

static void sha256_update_complete(napi_env env, napi_status status, void *arg) {
  HashUpdate *update = arg;
  update->state->busy = 0;
  if (status != napi_ok || update->failed) {
    update->state->spent = 1;
    reject_with_message(env, update->deferred, status != napi_ok ? "sha256Update was cancelled" : "sha256Update: the hash failed");
  } else {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, update->deferred, undefined);
  }
  napi_delete_reference(env, update->hash);
  napi_delete_reference(env, update->buffers);
  napi_delete_async_work(env, update->work);
  sha256_update_free(update);
}

napi_value Sha256Update(napi_env env, napi_callback_info info) {
  static const char usage[] = "sha256Update(hash, buffers): a hash neither spent nor being updated, and an array of Buffers";
  napi_value argv[2];
  Sha256State *state = hash_arguments(env, info, argv, 2, usage);
  if (state == NULL) return NULL;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  uint32_t count = 0;
  napi_get_array_length(env, argv[1], &count);
  HashUpdate *update = calloc(1, sizeof *update);
  if (update == NULL || (update->data = calloc(count + 1, sizeof *update->data)) == NULL
      || (update->lengths = calloc(count + 1, sizeof *update->lengths)) == NULL) {
    if (update != NULL) sha256_update_free(update);
    napi_throw_range_error(env, "ENOMEM", "sha256Update: cannot allocate");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    bool is_buffer = false;
    napi_get_element(env, argv[1], i, &element);
    napi_is_buffer(env, element, &is_buffer);
    if (!is_buffer) {
      sha256_update_free(update);
      napi_throw_type_error(env, NULL, usage);
      return NULL;
    }
    napi_get_buffer_info(env, element, (void **)&update->data[i], &update->lengths[i]);
  }
  update->state = state;
  update->count = count;
  state->busy = 1;
  napi_create_reference(env, argv[0], 1, &update->hash);
  napi_create_reference(env, argv[1], 1, &update->buffers);
  return queue_promised_work(env, "tsbuild:sha256Update", sha256_update_execute, sha256_update_complete, update, &update->deferred, &update->work);
}

napi_value Sha256Digest(napi_env env, napi_callback_info info) {
  static const char usage[] = "sha256Digest(hash): a hash neither spent nor being updated";
  napi_value argv[1];
  Sha256State *state = hash_arguments(env, info, argv, 1, usage);
  if (state == NULL) return NULL;
  unsigned char digest[32];
  state->spent = 1;
  if (!EVP_DigestFinal_ex(state->ctx, digest, NULL)) {
    napi_throw_error(env, NULL, "sha256Digest: the hash failed");
    return NULL;
  }
  napi_value result;
  napi_create_buffer_copy(env, sizeof digest, digest, NULL, &result);
  return result;
}

/*
 * blockDigests(buffer): a promise of [sha256, crc32], the buffer's SHA-256 (a
 * 32-byte Buffer) and gzip's CRC-32 of it, both in one job on the pool: a
 * block offered to the gzip member index is named by the first and checked
 * against a member's trailer by the second, neither on the main thread.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer; /* keeps the bytes alive */
  const unsigned char *data;
  size_t length;
  unsigned char digest[32];
  uLong crc;
  int failed;
} BlockDigests;

static void block_digests_execute(napi_env env, void *arg) {
  (void)env;
  BlockDigests *job = arg;
  pthread_once(&sha256_once, fetch_sha256);
  job->failed = !EVP_Digest(job->data, job->length, job->digest, NULL, sha256_md != NULL ? sha256_md : EVP_sha256(), NULL);
  uLong crc = crc32(0L, Z_NULL, 0);
  /* crc32 takes at most 4 GiB - 1 at a time. */
  for (size_t at = 0; at < job->length; at += 1u << 30) {
    size_t n = job->length - at < (1u << 30) ? job->length - at : (1u << 30);
    crc = crc32(crc, job->data + at, (uInt)n);
  }
  job->crc = crc;
}

static void block_digests_complete(napi_env env, napi_status status, void *arg) {
  BlockDigests *job = arg;
  if (status != napi_ok || job->failed) {
    reject_with_message(env, job->deferred, status != napi_ok ? "blockDigests was cancelled" : "blockDigests: the hash failed");
  } else {
    napi_value digest, crc, pair;
    napi_create_buffer_copy(env, sizeof job->digest, job->digest, NULL, &digest);
    napi_create_uint32(env, (uint32_t)job->crc, &crc);
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, digest);
    napi_set_element(env, pair, 1, crc);
    napi_resolve_deferred(env, job->deferred, pair);
  }
  napi_delete_reference(env, job->buffer);
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value BlockDigestsOf(napi_env env, napi_callback_info info) {
  static const char usage[] = "blockDigests(buffer): a Buffer";
  napi_value argv[1];
  if (!get_args(env, info, argv, 1, usage)) return NULL;
  void *data = NULL;
  size_t length = 0;
  if (!get_buffer(env, argv[0], &data, &length, "blockDigests's buffer")) return NULL;
  BlockDigests *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_range_error(env, "ENOMEM", "blockDigests: cannot allocate");
    return NULL;
  }
  job->data = data;
  job->length = length;
  napi_create_reference(env, argv[0], 1, &job->buffer);
  return queue_promised_work(env, "tsbuild:blockDigests", block_digests_execute, block_digests_complete, job, &job->deferred, &job->work);
}

/*
 * SHA-256 from the OpenSSL inside node (its symbols are the process's), for
 * work already on libuv's thread pool: a context's small files are hashed
 * there while their bytes are in the cache, not one by one on the main thread.
 */
#include <errno.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <pthread.h>
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

/* tests/fuzz/fuzz_http_url.c - libFuzzer target for common/http's text parsers. The first
 * input byte picks a mode, the rest is the text:
 *   0: http_url_decode; invariant: a decoded string re-encoded with http_url_encode decodes
 *      to itself.
 *   1: http_validate_tenant; invariant: an accepted ID is 1..150 bytes of dskit's allowed
 *      set and not "." or "..". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/http.h"

static void check_decode(arena_t *a, const char *s, size_t n)
{
    char *dec = http_url_decode(a, s, n, 0);
    if (dec == NULL || memchr(s, '\0', n) != NULL) {
        return;
    }
    buf_t b;
    buf_init(&b);
    http_url_encode(&b, dec);
    char *again = http_url_decode(a, b.data != NULL ? b.data : "", b.len, 0);
    if (again == NULL || strcmp(again, dec) != 0) {
        abort();
    }
    buf_fini(&b);
}

static void check_tenant(const char *id)
{
    err_t err = {0};
    if (http_validate_tenant(id, &err) < 0) {
        return;
    }
    size_t n = strlen(id);
    if (n > 150 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!-_.*'()") != n) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    arena_t *a = arena_new(1u << 20, NULL);
    const char *text = arena_strndup(a, (const char *)data + 1, size - 1);
    if (data[0] % 2 == 0) {
        check_decode(a, (const char *)data + 1, size - 1);
    } else if (text != NULL) {
        check_tenant(text);
    }
    arena_free(a);
    return 0;
}

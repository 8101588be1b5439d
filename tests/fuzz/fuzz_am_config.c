/* tests/fuzz/fuzz_am_config.c - libFuzzer target for the Alertmanager config parser (the
 * text tenants POST to /api/v1/alerts). Invariant: parsing never crashes or leaks, and a
 * parse either yields a config with a root route and receiver or an error message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alertmanager/am_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_t err = {0};
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    am_config_t *c = am__config_parse(text, strlen(text), &err);
    if ((c == NULL) == (err.code == ERR_NONE)) {
        abort(); /* a failure must say why; a success must not carry an error */
    }
    if (c != NULL && (c->route == NULL || c->route->receiver == NULL)) {
        abort();
    }
    am__config_unref(c);
    free(text);
    return 0;
}

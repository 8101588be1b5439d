/* tests/fuzz/fuzz_config.c - libFuzzer target for the YAML configuration loader.
 * The first input byte picks the program (bits 0-1: promd, logd, alertd, rulesync) and the
 * document kind (bit 2: a runtime `overrides:` file instead of a configuration); the rest is
 * the YAML text. Invariants: loading never crashes or leaks; a loaded config dumps to YAML
 * that loads again, and that second load dumps to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"

static char *dump(const cfg_t *c)
{
    buf_t b;
    buf_init(&b);
    cfg_dump_yaml(c, &b);
    return buf_steal(&b, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    cfg_program_t prog = (cfg_program_t)(data[0] % 4);
    err_t err = {0};
    if (data[0] & 4) {
        cfg_t *base = cfg_parse(prog, "", 0, "empty.yaml", &err);
        cfg_overrides_free(cfg_overrides_parse(base, (const char *)data + 1, size - 1,
                                               "fuzz.yaml", &err));
        cfg_unref(base);
        return 0;
    }
    cfg_t *c = cfg_parse(prog, (const char *)data + 1, size - 1, "fuzz.yaml", &err);
    if (c == NULL) {
        return 0;
    }
    char *first = dump(c);
    err_clear(&err);
    cfg_t *again = cfg_parse(prog, first, strlen(first), "dump.yaml", &err);
    if (again == NULL) {
        abort(); /* the dump of a valid config must load */
    }
    char *second = dump(again);
    if (strcmp(first, second) != 0) {
        abort();
    }
    free(first);
    free(second);
    cfg_unref(again);
    cfg_unref(c);
    return 0;
}

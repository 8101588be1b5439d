/* tests/fuzz/fuzz_promql.c - libFuzzer target for the PromQL parser and printer.
 * Invariant: any input either fails to parse (with an error message) or parses to a tree
 * whose printed form parses again to an equal tree that prints identically. Experimental
 * syntax is enabled so its paths are fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "promql/promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned flags = PROMQL_PARSE_EXPERIMENTAL_FUNCS | PROMQL_PARSE_DURATION_EXPR;
    err_t err = {0};
    arena_t *a = arena_new(1u << 24, NULL);
    char *q = arena_strndup(a, (const char *)data, size);
    promql_expr_t *e = q != NULL ? promql_parse_flags(a, q, flags, &err) : NULL;
    if (e == NULL) {
        if (q != NULL && err.msg[0] == '\0') {
            abort(); /* a failed parse always explains itself */
        }
        arena_free(a);
        return 0;
    }
    const char *s = promql_format(a, e);
    err_t err2 = {0};
    promql_expr_t *again = promql_parse_flags(a, s, flags, &err2);
    if (again == NULL || !promql_equal(e, again) || strcmp(s, promql_format(a, again)) != 0) {
        abort();
    }
    arena_free(a);
    return 0;
}

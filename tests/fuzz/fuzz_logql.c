/* tests/fuzz/fuzz_logql.c - libFuzzer target for the LogQL parser, printer, planner and
 * pipelines. Invariants: a failed parse explains itself; a parsed query prints to text that
 * parses again and prints identically; a metric query plans into PromQL that promql_parse
 * accepts; a log query's pipeline runs over fixed logfmt and JSON lines without fault. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/labels.h"
#include "logql/logql.h"
#include "promql/promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* called by libFuzzer */

static void run_pipeline(arena_t *a, const logql_pipeline_t *p)
{
    static const char *lines[] = {
        "level=error msg=\"disk full\" status=503 latency=1.5s size=2MB ip=10.0.0.1",
        "{\"level\":\"warn\",\"http\":{\"status\":200,\"path\":\"/x\"},\"_entry\":\"packed\"}",
        "",
    };
    static const label_t md[] = {{"trace_id", "abc"}};
    err_t err = {0};
    const labels_t *stream = labels_parse(a, "{app=\"api\", level=\"info\"}", &err);
    logql_proc_t *pr = stream != NULL ? logql_proc_new(a, p) : NULL;
    for (size_t i = 0; pr != NULL && i < sizeof(lines) / sizeof(lines[0]); i++) {
        log_entry_t entry = {
            .ts_ns = 1, .line = lines[i], .len = strlen(lines[i]), .metadata = md, .n_metadata = 1};
        logql_out_t out;
        if (logql_proc_run(pr, stream, &entry, &out) == 1 &&
            (out.labels == NULL || out.line == NULL)) {
            abort();
        }
    }
}

static void check_plan(arena_t *a, const logql_expr_t *e)
{
    const logql_leaf_t *leaves = NULL;
    size_t n = 0;
    const char *pq = NULL;
    err_t err = {0};
    if (logql_metric_plan(a, e, &leaves, &n, &pq, &err) != 0 || promql_parse(a, pq, &err) == NULL) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        run_pipeline(a, leaves[i].sel.pipeline);
    }
}

/* Loki prints some folded literals as text its own lexer cannot read back: NaN, +Inf,
 * -0 (lexed as a negative duration) and exabyte sizes such as `3.3EB` (lexed as a float
 * exponent without digits). Such prints are exempt from the reparse check. */
static int has_unreadable_literal(const char *s)
{
    if (strstr(s, "NaN") != NULL || strstr(s, "Inf") != NULL) {
        return 1;
    }
    for (const char *p = s; (p = strstr(p, "EB")) != NULL; p++) {
        if (p > s && p[-1] >= '0' && p[-1] <= '9') {
            return 1;
        }
    }
    for (const char *p = s; (p = strstr(p, "-0")) != NULL; p++) {
        if (p[2] != '.' && (p[2] < '0' || p[2] > '9') && p[2] != 'e') {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_t err = {0};
    arena_t *a = arena_new(1u << 26, NULL);
    char *q = arena_strndup(a, (const char *)data, size);
    logql_expr_t *e = q != NULL ? logql_parse(a, q, &err) : NULL;
    if (e == NULL) {
        if (q != NULL && err.msg[0] == '\0') {
            abort();
        }
        arena_free(a);
        return 0;
    }
    const char *s = logql_format(a, e);
    if (!has_unreadable_literal(s)) {
        err_t err2 = {0};
        logql_expr_t *again = logql_parse(a, s, &err2);
        if (again == NULL || strcmp(s, logql_format(a, again)) != 0) {
            abort();
        }
    }
    if (logql_is_metric(e)) {
        check_plan(a, e);
    } else {
        logql_selector_t sel;
        if (logql_log_selector(e, &sel) != 0) {
            abort();
        }
        run_pipeline(a, sel.pipeline);
    }
    arena_free(a);
    return 0;
}

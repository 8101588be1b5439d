/* tests/unit/test_logql_pipeline.c - LogQL pipelines over real-looking lines: line filters,
 * every parser (with Loki's key sanitising, `_extracted` clashes and error labels), label
 * filters, formatters, drop/keep, decolorize, unwrap, structured metadata, and the
 * processor's interning of output label sets. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/arena.h"
#include "common/labels.h"
#include "logql/logql.h"
#include "test.h"

#define STREAM "{app=\"api\", level=\"info\", env=\"prod\"}"

typedef struct {
    arena_t *a;
    logql_proc_t *pr;
    const labels_t *stream;
    logql_out_t out;
    int kept;
} run_t;

/* Parses `query` (a log query), runs it over one entry of STREAM with `line` and optional
 * metadata, leaving the result in r. */
static void run_md(run_t *r, const char *query, const char *line, const label_t *md, size_t n_md)
{
    err_t err = {0};
    r->a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(r->a, query, &err);
    if (e == NULL) {
        fprintf(stderr, "parse `%s`: %s\n", query, err.msg);
    }
    logql_selector_t sel;
    if (e == NULL || logql_log_selector(e, &sel) != 0) {
        r->kept = -1;
        return;
    }
    r->pr = logql_proc_new(r->a, sel.pipeline);
    r->stream = labels_parse(r->a, STREAM, &err);
    log_entry_t entry = {.ts_ns = 1700000000000000000LL,
                         .line = line,
                         .len = strlen(line),
                         .metadata = md,
                         .n_metadata = n_md};
    memset(&r->out, 0, sizeof(r->out));
    r->kept = logql_proc_run(r->pr, r->stream, &entry, &r->out);
}

static void run(run_t *r, const char *query, const char *line)
{
    run_md(r, query, line, NULL, 0);
}

static const char *get(const run_t *r, const char *name)
{
    const char *v = labels_get(r->out.labels, name);
    return v != NULL ? v : "(absent)";
}

static const char *out_line(run_t *r)
{
    return arena_strndup(r->a, r->out.line, r->out.len);
}

static int kept(const char *query, const char *line)
{
    run_t r;
    run(&r, query, line);
    int k = r.kept;
    arena_free(r.a);
    return k;
}

/* ---- line filters -------------------------------------------------------------------- */

TEST(line_filters_contains_and_regex)
{
    const char *line = "level=error msg=\"connection refused\" host=db-1 latency=35ms";
    ASSERT_EQ(kept("{app=\"api\"} |= \"refused\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |= \"Refused\"", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} != \"refused\"", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} |= \"\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |~ \"host=db-[0-9]+\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |~ \"(?i)CONNECTION\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |~ \"^msg\"", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} !~ \"latency=[0-9]+s\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |= \"error\" |= \"db-2\"", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} |= \"timeout\" or \"refused\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |= \"timeout\" or \"reset\"", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} != \"timeout\" or \"refused\"", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} |~ \"timeout\" or \"db-[0-9]\"", line), 1);
    /* Go regexps: `.` stops at a newline, the search still spans lines. */
    ASSERT_EQ(kept("{app=\"api\"} |~ \"first.second\"", "first\nsecond"), 0);
    ASSERT_EQ(kept("{app=\"api\"} |~ \"sec.nd$\"", "first\nsecond"), 1);
    ASSERT_EQ(kept("{app=\"api\"} |~ \"(?s)first.second\"", "first\nsecond"), 1);
}

TEST(line_filters_pattern_and_ip)
{
    const char *line = "10.1.2.3 - - [25/Nov/2026] \"GET /api/v1 HTTP/1.1\" 200 512";
    ASSERT_EQ(kept("{app=\"api\"} |> \"<_> \\\"GET <_>\\\" <_>\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |> \"<_> \\\"POST <_>\"", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} !> \"<_> \\\"POST <_>\"", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |= ip(\"10.0.0.0/8\")", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |= ip(\"10.1.2.0-10.1.2.2\")", line), 0);
    ASSERT_EQ(kept("{app=\"api\"} |= ip(\"10.1.2.3\")", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} != ip(\"192.168.0.0/16\")", line), 1);
    ASSERT_EQ(kept("{app=\"api\"} |= ip(\"::1\")", "connect from ::1 port 22"), 1);
    ASSERT_EQ(kept("{app=\"api\"} |= ip(\"192.168.0.0/16\") or \"GET\"", line), 1);
}

TEST(filter_only_pipeline_passes_the_stream_pointer)
{
    run_t r;
    run(&r, "{app=\"api\"} |= \"x\"", "x marks");
    ASSERT_EQ(r.kept, 1);
    ASSERT_TRUE(r.out.labels == r.stream);
    ASSERT_EQ(labels_len(r.out.parsed), 0);
    ASSERT_STR_EQ(out_line(&r), "x marks");
    arena_free(r.a);
}

/* ---- json ------------------------------------------------------------------------------ */

TEST(json_flattens_and_sanitises_keys)
{
    run_t r;
    run(&r, "{app=\"api\"} | json",
        "{\"msg\":\"GET "
        "/x\\n\\u00e9\",\"http\":{\"status\":503,\"req.id\":\"a-1\",\"hdr\":{\"ok\":true}},"
        "\"tags\":[1,2],\"nil\":null,\"1st "
        "key\":\"v\",\"user-agent\":\"curl\",\"level\":\"error\"}");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "msg"), "GET /x\n\xc3\xa9");
    ASSERT_STR_EQ(get(&r, "http_status"), "503");
    ASSERT_STR_EQ(get(&r, "http_req_id"), "a-1");
    ASSERT_STR_EQ(get(&r, "http_hdr_ok"), "true");
    ASSERT_STR_EQ(get(&r, "tags"), "(absent)");
    ASSERT_STR_EQ(get(&r, "nil"), "(absent)");
    ASSERT_STR_EQ(get(&r, "_1st_key"), "v");
    ASSERT_STR_EQ(get(&r, "user_agent"), "curl");
    /* `level` is a stream label: the parsed one is renamed, the stream one stays. */
    ASSERT_STR_EQ(get(&r, "level"), "info");
    ASSERT_STR_EQ(get(&r, "level_extracted"), "error");
    ASSERT_STR_EQ(labels_get(r.out.parsed, "http_status"), "503");
    ASSERT_NULL(labels_get(r.out.parsed, "app"));
    ASSERT_STR_EQ(get(&r, "__error__"), "(absent)");
    arena_free(r.a);
}

TEST(json_error_sets_error_labels_and_keeps_earlier_fields)
{
    run_t r;
    run(&r, "{app=\"api\"} | json", "{\"a\":\"1\",\"b\":");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "a"), "1");
    ASSERT_STR_EQ(get(&r, "__error__"), "JSONParserErr");
    ASSERT_TRUE(strlen(get(&r, "__error_details__")) > 0);
    arena_free(r.a);
    run(&r, "{app=\"api\"} | json", "plain text line");
    ASSERT_STR_EQ(get(&r, "__error__"), "JSONParserErr");
    ASSERT_STR_EQ(get(&r, "__error_details__"),
                  "Value looks like object, but can't find closing '}' symbol");
    arena_free(r.a);
    ASSERT_EQ(kept("{app=\"api\"} | json | __error__=\"\"", "not json"), 0);
    ASSERT_EQ(kept("{app=\"api\"} | json | __error__=\"\"", "{\"ok\":1}"), 1);
    ASSERT_EQ(kept("{app=\"api\"} | json | __error__=\"JSONParserErr\"", "not json"), 1);
    /* A field named __error__ does not clash with the error label. */
    run(&r, "{app=\"api\"} | json", "{\"__error__\":\"mine\",\"x\":");
    ASSERT_STR_EQ(get(&r, "__error__"), "JSONParserErr");
    ASSERT_EQ(labels_len(r.out.labels), 5);
    arena_free(r.a);
}

TEST(json_with_parameters)
{
    run_t r;
    run(&r,
        "{app=\"api\"} | json st=\"response.status\", first=\"items[1]\", "
        "sp=\"[\\\"a key\\\"]\", obj=\"response\", level=\"lvl\", none=\"nope.x\"",
        "{\"response\":{\"status\":200,\"size\":\"1kB\"},\"items\":[\"a\",\"b\"],\"a key\":\"x y\","
        "\"lvl\":\"warn\"}");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "st"), "200");
    ASSERT_STR_EQ(get(&r, "first"), "b");
    ASSERT_STR_EQ(get(&r, "sp"), "x y");
    ASSERT_STR_EQ(get(&r, "obj"), "{\"status\":200,\"size\":\"1kB\"}");
    ASSERT_STR_EQ(get(&r, "level_extracted"), "warn");
    ASSERT_STR_EQ(get(&r, "none"), "(absent)");
    ASSERT_STR_EQ(get(&r, "response_size"), "(absent)");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | json a=\"b\"", "oops");
    ASSERT_STR_EQ(get(&r, "__error__"), "JSONParserErr");
    arena_free(r.a);
}

/* ---- logfmt ---------------------------------------------------------------------------- */

TEST(logfmt_parses_quoted_values_and_clashes)
{
    run_t r;
    run(&r, "{app=\"api\"} | logfmt",
        "ts=2026-11-25T12:00:00Z level=warn msg=\"disk \\\"sda\\\" 91% full\" path=/var dur=1.5s "
        "empty= flag");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "ts"), "2026-11-25T12:00:00Z");
    ASSERT_STR_EQ(get(&r, "level"), "info");
    ASSERT_STR_EQ(get(&r, "level_extracted"), "warn");
    ASSERT_STR_EQ(get(&r, "msg"), "disk \"sda\" 91% full");
    ASSERT_STR_EQ(get(&r, "path"), "/var");
    ASSERT_STR_EQ(get(&r, "empty"), "(absent)");
    ASSERT_STR_EQ(get(&r, "flag"), "(absent)");
    ASSERT_STR_EQ(get(&r, "__error__"), "(absent)");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | logfmt",
        "buzz=foo bar=\xef\xbf\xbd"
        "f bad=\xff\xfe ctl=\"a\\tb\\\\c\nd\"");
    ASSERT_STR_EQ(get(&r, "bar"), " f");
    ASSERT_STR_EQ(get(&r, "bad"), "  ");
    ASSERT_STR_EQ(get(&r, "ctl"), "a\tb\\c\nd");
    arena_free(r.a);
}

TEST(logfmt_strict_reports_errors_non_strict_skips)
{
    run_t r;
    run(&r, "{app=\"api\"} | logfmt", "a=1 =x b=2");
    ASSERT_STR_EQ(get(&r, "a"), "1");
    ASSERT_STR_EQ(get(&r, "b"), "2");
    ASSERT_STR_EQ(get(&r, "__error__"), "(absent)");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | logfmt --strict", "foobar====wqe=sdad1r");
    ASSERT_STR_EQ(get(&r, "foobar"), "(absent)");
    ASSERT_STR_EQ(get(&r, "__error_details__"), "logfmt syntax error at pos 8 : unexpected '='");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | logfmt --strict", "a=1 =x b=2");
    ASSERT_STR_EQ(get(&r, "a"), "1");
    ASSERT_STR_EQ(get(&r, "b"), "(absent)");
    ASSERT_STR_EQ(get(&r, "__error__"), "LogfmtParserErr");
    ASSERT_STR_EQ(get(&r, "__error_details__"), "logfmt syntax error at pos 5 : unexpected '='");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | logfmt --strict", "a=1 b=\"open");
    ASSERT_STR_EQ(get(&r, "__error_details__"),
                  "logfmt syntax error at pos 12 : unterminated quoted value");
    arena_free(r.a);
}

TEST(logfmt_with_parameters)
{
    run_t r;
    run(&r, "{app=\"api\"} | logfmt sev=\"level\", m=\"msg\", missing",
        "level=debug msg=hi other=1");
    ASSERT_STR_EQ(get(&r, "sev"), "debug");
    ASSERT_STR_EQ(get(&r, "m"), "hi");
    ASSERT_STR_EQ(get(&r, "other"), "(absent)");
    ASSERT_STR_EQ(get(&r, "missing"), "(absent)");
    arena_free(r.a);
}

/* ---- regexp, pattern, unpack ---------------------------------------------------------- */

TEST(regexp_parser_named_groups)
{
    run_t r;
    run(&r,
        "{app=\"api\"} | regexp \"(?P<method>[A-Z]+) (?P<path>\\\\S+) (?P<env>\\\\w+)(?P<opt>!)?\"",
        "GET /health staging");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "method"), "GET");
    ASSERT_STR_EQ(get(&r, "path"), "/health");
    ASSERT_STR_EQ(get(&r, "env"), "prod");
    ASSERT_STR_EQ(get(&r, "env_extracted"), "staging");
    ASSERT_STR_EQ(get(&r, "opt"), "(absent)");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | regexp \"(?P<method>[A-Z]+) x\"", "no match here");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "method"), "(absent)");
    arena_free(r.a);
}

TEST(pattern_parser_extracts_captures)
{
    run_t r;
    run(&r,
        "{app=\"api\"} | pattern \"<ip> - <user> [<_>] \\\"<method> <path> <_>\\\" <status> "
        "<size>\"",
        "10.1.2.3 - alice [25/Nov/2026:12:00:00] \"POST /login HTTP/1.1\" 302 0");
    ASSERT_STR_EQ(get(&r, "ip"), "10.1.2.3");
    ASSERT_STR_EQ(get(&r, "user"), "alice");
    ASSERT_STR_EQ(get(&r, "method"), "POST");
    ASSERT_STR_EQ(get(&r, "path"), "/login");
    ASSERT_STR_EQ(get(&r, "status"), "302");
    ASSERT_STR_EQ(get(&r, "size"), "0");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | pattern `<_> msg=\"<method> <path> (<status>) <app>\"`",
        "level=debug ts=2021-05-19T07:54:26Z caller=logging.go:66 msg=\"POST /loki/api/v1/push "
        "(204) "
        "1.238734ms\"");
    ASSERT_STR_EQ(get(&r, "method"), "POST");
    ASSERT_STR_EQ(get(&r, "path"), "/loki/api/v1/push");
    ASSERT_STR_EQ(get(&r, "status"), "204");
    ASSERT_STR_EQ(get(&r, "app"), "api");
    ASSERT_STR_EQ(get(&r, "app_extracted"), "1.238734ms");
    arena_free(r.a);
    /* A literal that never appears: the capture takes the rest of the line. */
    run(&r, "{app=\"api\"} | pattern \"<a> | <b>\"", "one two");
    ASSERT_STR_EQ(get(&r, "a"), "one two");
    ASSERT_STR_EQ(get(&r, "b"), "(absent)");
    arena_free(r.a);
}

TEST(unpack_restores_packed_entries)
{
    run_t r;
    run(&r, "{app=\"api\"} | unpack",
        "{\"_entry\":\"original \\\"line\\\"\",\"pod\":\"p-1\",\"app\":\"x\",\"n\":5}");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(out_line(&r), "original \"line\"");
    ASSERT_STR_EQ(get(&r, "pod"), "p-1");
    ASSERT_STR_EQ(get(&r, "app_extracted"), "x");
    ASSERT_STR_EQ(get(&r, "n"), "(absent)");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | unpack", "not an object");
    ASSERT_STR_EQ(get(&r, "__error__"), "JSONParserErr");
    arena_free(r.a);
}

/* ---- label filters --------------------------------------------------------------------- */

TEST(label_filters_numbers_durations_bytes)
{
    const char *line = "status=503 latency=1.5s size=2MB ratio=0.25 addr=10.0.0.7 name=db-7";
    const char *base = "{app=\"api\"} | logfmt | ";
    static const struct {
        const char *filter;
        int kept;
    } cases[] = {
        {"status >= 500", 1},
        {"status == 503", 1},
        {"status = 404", 0},
        {"status != 503", 0},
        {"status < 500", 0},
        {"ratio <= 0.25", 1},
        {"latency > 1s", 1},
        {"latency >= 1500ms", 1},
        {"latency < 1s", 0},
        {"size > 1MB", 1},
        {"size == 2000kB", 1},
        {"size < 1.5MiB", 0},
        {"addr = ip(\"10.0.0.0/24\")", 1},
        {"addr != ip(\"10.0.0.7\")", 0},
        {"name =~ \"db-[0-9]+\"", 1},
        {"name !~ \"db.*\"", 0},
        {"name = \"db-7\"", 1},
        {"missing > 1", 0},
        {"missing = \"\"", 1},
        {"missing != \"\"", 0},
        {"status >= 500 and name = \"x\"", 0},
        {"status >= 500 or name = \"x\"", 1},
        {"status >= 500, latency > 1s", 1},
        {"(status < 500 or ratio < 0.5) name=\"db-7\"", 1},
        {"status > 600 or ratio > 1 or name = \"db-7\"", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char q[256];
        snprintf(q, sizeof(q), "%s%s", base, cases[i].filter);
        if (kept(q, line) != cases[i].kept) {
            TEST_FAIL_("`%s` kept=%d, want %d", q, !cases[i].kept, cases[i].kept);
        }
    }
}

TEST(label_filter_conversion_failure_sets_label_filter_err)
{
    run_t r;
    run(&r, "{app=\"api\"} | logfmt | status > 5", "status=abc");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "__error__"), "LabelFilterErr");
    ASSERT_STR_EQ(get(&r, "__error_details__"),
                  "strconv.ParseFloat: parsing \"abc\": invalid syntax");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | logfmt | d > 5s", "d=soon");
    ASSERT_STR_EQ(get(&r, "__error_details__"), "time: invalid duration \"soon\"");
    arena_free(r.a);
    ASSERT_EQ(kept("{app=\"api\"} | logfmt | status > 5 | __error__=\"\"", "status=abc"), 0);
    /* After an error an ip() filter passes everything (only string matchers filter). */
    ASSERT_EQ(kept("{app=\"api\"} | json | addr = ip(\"10.0.0.0/8\")", "addr=1.2.3.4"), 1);
    ASSERT_EQ(kept("{app=\"api\"} | logfmt | addr = ip(\"10.0.0.0/8\")", "addr=1.2.3.4"), 0);
    ASSERT_EQ(kept("{app=\"api\"} | logfmt | addr = ip(\"10.0.0.0/8\")", "addr=\"via 10.9.8.7\""),
              1);
}

/* ---- formatters, drop, keep, decolorize ------------------------------------------------- */

TEST(line_format_renders_labels_and_line)
{
    run_t r;
    run(&r,
        "{app=\"api\"} | logfmt | line_format \"{{.level_extracted | ToUpper}} {{.app}}: "
        "{{__line__}}\"",
        "level=warn msg=x");
    ASSERT_STR_EQ(out_line(&r), "WARN api: level=warn msg=x");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | line_format \"{{.missing.x}}\" |= \"never\"", "line");
    ASSERT_EQ(r.kept, 0);
    arena_free(r.a);
    /* Filters after line_format see the new line. */
    ASSERT_EQ(
        kept("{app=\"api\"} | logfmt | line_format \"{{.msg}}\" |= \"hello\"", "msg=hello x=1"), 1);
    ASSERT_EQ(kept("{app=\"api\"} | logfmt | line_format \"{{.msg}}\" |= \"x=1\"", "msg=hello x=1"),
              0);
}

TEST(label_format_renames_and_templates)
{
    run_t r;
    run(&r,
        "{app=\"api\"} | logfmt | label_format svc=app, code=\"{{.status}}-{{.env}}\", level=lvl",
        "status=500 lvl=crit");
    ASSERT_STR_EQ(get(&r, "svc"), "api");
    ASSERT_STR_EQ(get(&r, "app"), "(absent)");
    ASSERT_STR_EQ(get(&r, "code"), "500-prod");
    ASSERT_STR_EQ(get(&r, "level"), "crit");
    ASSERT_STR_EQ(get(&r, "lvl"), "(absent)");
    arena_free(r.a);
}

TEST(drop_and_keep)
{
    run_t r;
    run(&r, "{app=\"api\"} | logfmt | drop env, method=\"GET\", status=\"200\"",
        "method=GET status=500");
    ASSERT_STR_EQ(get(&r, "env"), "(absent)");
    ASSERT_STR_EQ(get(&r, "method"), "(absent)");
    ASSERT_STR_EQ(get(&r, "status"), "500");
    ASSERT_STR_EQ(get(&r, "app"), "api");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | logfmt | keep app, method!=\"GET\"", "method=PUT status=500");
    ASSERT_EQ(labels_len(r.out.labels), 2);
    ASSERT_STR_EQ(get(&r, "method"), "PUT");
    ASSERT_STR_EQ(get(&r, "app"), "api");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | json | drop __error__, __error_details__", "nope");
    ASSERT_STR_EQ(get(&r, "__error__"), "(absent)");
    ASSERT_STR_EQ(get(&r, "__error_details__"), "(absent)");
    arena_free(r.a);
    run(&r, "{app=\"api\"} | json | keep app", "nope");
    ASSERT_STR_EQ(get(&r, "__error__"), "JSONParserErr");
    arena_free(r.a);
}

TEST(decolorize_strips_ansi)
{
    run_t r;
    run(&r, "{app=\"api\"} | decolorize", "\x1b[31mERROR\x1b[0m: \x1b[1;33mdisk\x1b[m full");
    ASSERT_STR_EQ(out_line(&r), "ERROR: disk full");
    arena_free(r.a);
}

/* ---- unwrap ---------------------------------------------------------------------------- */

/* Runs a metric query's (single) leaf pipeline over one line. */
static void run_leaf(run_t *r, const char *query, const char *line)
{
    err_t err = {0};
    r->a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(r->a, query, &err);
    const logql_leaf_t *l = NULL;
    size_t n = 0;
    const char *pq = NULL;
    if (e == NULL || logql_metric_plan(r->a, e, &l, &n, &pq, &err) != 0 || n != 1) {
        fprintf(stderr, "`%s`: %s\n", query, err.msg);
        r->kept = -1;
        return;
    }
    r->pr = logql_proc_new(r->a, l[0].sel.pipeline);
    r->stream = labels_parse(r->a, STREAM, &err);
    log_entry_t entry = {.ts_ns = 1, .line = line, .len = strlen(line)};
    r->kept = logql_proc_run(r->pr, r->stream, &entry, &r->out);
}

TEST(unwrap_converts_values)
{
    static const struct {
        const char *unwrap, *line;
        double value;
    } cases[] = {
        {"unwrap latency", "latency=0.25", 0.25},
        {"unwrap duration(latency)", "latency=1m30s", 90},
        {"unwrap duration_seconds(latency)", "latency=250ms", 0.25},
        {"unwrap bytes(size)", "size=1.5KiB", 1536},
        {"unwrap bytes(size)", "size=20MB", 20e6},
        {"unwrap size", "size=-3e2", -300},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char q[256];
        run_t r;
        snprintf(q, sizeof(q), "sum_over_time({app=\"api\"} | logfmt | %s [1m])", cases[i].unwrap);
        run_leaf(&r, q, cases[i].line);
        ASSERT_EQ(r.kept, 1);
        ASSERT_DBL_EQ(r.out.value, cases[i].value);
        ASSERT_STR_EQ(get(&r, "__error__"), "(absent)");
        arena_free(r.a);
    }
}

TEST(unwrap_failures_and_post_filters)
{
    run_t r;
    run_leaf(&r, "sum_over_time({app=\"api\"} | logfmt | unwrap latency [1m])", "latency=fast");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "__error__"), "SampleExtractionErr");
    ASSERT_STR_EQ(get(&r, "__error_details__"),
                  "strconv.ParseFloat: parsing \"fast\": invalid syntax");
    arena_free(r.a);
    run_leaf(&r, "sum_over_time({app=\"api\"} | logfmt | unwrap latency | __error__=\"\" [1m])",
             "latency=fast");
    ASSERT_EQ(r.kept, 0);
    arena_free(r.a);
    run_leaf(&r, "sum_over_time({app=\"api\"} | logfmt | unwrap latency [1m])", "other=1");
    ASSERT_EQ(r.kept, 0);
    arena_free(r.a);
    run_leaf(&r,
             "max_over_time({app=\"api\"} | logfmt | unwrap duration(d) | d > 2s [1m]) by (app)",
             "d=1s");
    ASSERT_EQ(r.kept, 0);
    arena_free(r.a);
}

/* ---- metadata and interning ------------------------------------------------------------ */

TEST(structured_metadata_is_labels_and_clashes)
{
    label_t md[] = {{"trace_id", "abc123"}, {"user", "bob"}};
    run_t r;
    run_md(&r, "{app=\"api\"} | logfmt | trace_id=\"abc123\"", "user=eve msg=hi", md, 2);
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "trace_id"), "abc123");
    ASSERT_STR_EQ(get(&r, "user"), "bob");
    ASSERT_STR_EQ(get(&r, "user_extracted"), "eve");
    ASSERT_STR_EQ(labels_get(r.out.metadata, "user"), "bob");
    ASSERT_NULL(labels_get(r.out.metadata, "msg"));
    ASSERT_STR_EQ(labels_get(r.out.parsed, "msg"), "hi");
    arena_free(r.a);
    label_t twice[] = {{"k", "1"}, {"k", "2"}};
    run_md(&r, "{app=\"api\"} | logfmt", "x=1", twice, 2);
    ASSERT_EQ(labels_len(r.out.metadata), 1);
    ASSERT_NOT_NULL(labels_get(r.out.labels, "k"));
    arena_free(r.a);
    run_md(&r, "{app=\"api\"} |= \"hi\"", "hi", md, 2);
    ASSERT_STR_EQ(get(&r, "trace_id"), "abc123");
    ASSERT_STR_EQ(get(&r, "app"), "api");
    arena_free(r.a);
}

TEST(equal_output_sets_share_one_pointer)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(a, "{app=\"api\"} | logfmt | drop n", &err);
    logql_selector_t sel;
    ASSERT_EQ(logql_log_selector(e, &sel), 0);
    logql_proc_t *pr = logql_proc_new(a, sel.pipeline);
    const labels_t *stream = labels_parse(a, STREAM, &err);
    const char *lines[] = {"lvl=a n=1", "lvl=b n=2", "lvl=a n=3", "lvl=b n=4"};
    const labels_t *seen[4];
    for (size_t i = 0; i < 4; i++) {
        log_entry_t entry = {.ts_ns = (int64_t)i, .line = lines[i], .len = strlen(lines[i])};
        logql_out_t out;
        ASSERT_EQ(logql_proc_run(pr, stream, &entry, &out), 1);
        seen[i] = out.labels;
    }
    ASSERT_TRUE(seen[0] == seen[2]);
    ASSERT_TRUE(seen[1] == seen[3]);
    ASSERT_TRUE(seen[0] != seen[1]);
    ASSERT_STR_EQ(labels_get(seen[1], "lvl"), "b");
    /* Steady state: no arena growth for already-seen sets. */
    size_t used = arena_used(a);
    for (size_t i = 0; i < 1000; i++) {
        log_entry_t entry = {
            .ts_ns = (int64_t)i, .line = lines[i % 4], .len = strlen(lines[i % 4])};
        logql_out_t out;
        logql_proc_run(pr, stream, &entry, &out);
    }
    ASSERT_EQ(arena_used(a), used);
    arena_free(a);
}

static double bench(const char *query, const char *line, size_t n)
{
    err_t err = {0};
    arena_t *a = arena_new(0, NULL);
    logql_expr_t *e = logql_parse(a, query, &err);
    logql_selector_t sel;
    logql_log_selector(e, &sel);
    logql_proc_t *pr = logql_proc_new(a, sel.pipeline);
    const labels_t *stream = labels_parse(a, STREAM, &err);
    log_entry_t entry = {.line = line, .len = strlen(line)};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t kept_n = 0;
    for (size_t i = 0; i < n; i++) {
        logql_out_t out;
        entry.ts_ns = (int64_t)i;
        kept_n += (size_t)logql_proc_run(pr, stream, &entry, &out);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    arena_free(a);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return kept_n == n ? (double)n / s : 0;
}

TEST(pipeline_throughput_report)
{
    const char *line =
        "ts=2026-11-25T12:00:00Z level=info msg=\"request served\" path=/api/v1/query "
        "status=200 latency=12ms bytes=5120";
    double f = bench("{app=\"api\"} |= \"served\"", line, 200000);
    double l = bench("{app=\"api\"} |= \"served\" | logfmt | status < 500", line, 100000);
    double j =
        bench("{app=\"api\"} | json | status < 500",
              "{\"level\":\"info\",\"msg\":\"request served\",\"status\":200,\"latency\":\"12ms\"}",
              100000);
    fprintf(stderr, "  throughput (entries/s): filter %.0f, logfmt+filter %.0f, json+filter %.0f\n",
            f, l, j);
    ASSERT_TRUE(f > 0 && l > 0 && j > 0);
}

TEST(line_filters_run_early_like_loki)
{
    /* unpack and line_format rewrite the line: filters after them see the new line. */
    const char *packed = "{\"_entry\":\"inner text\",\"k\":\"v\"}";
    ASSERT_EQ(kept("{app=\"api\"} | unpack |= \"inner\"", packed), 1);
    ASSERT_EQ(kept("{app=\"api\"} | unpack |= \"_entry\"", packed), 0);
    /* Parsers do not: a later filter runs first, on the same line. */
    ASSERT_EQ(kept("{app=\"api\"} | logfmt | line_format \"{{.foo}}\" |= \"1\"", "foo=1 bar=2"), 1);
    ASSERT_EQ(kept("{app=\"api\"} | logfmt | line_format \"{{.foo}}\" |= \"bar\"", "foo=1 bar=2"),
              0);
    /* Loki moves filters ahead of decolorize too, so they still see the colour codes. */
    ASSERT_EQ(kept("{app=\"api\"} | decolorize |= \"\\x1b[31m\"", "\x1b[31mred\x1b[0m"), 1);
    run_t r;
    run(&r, "{app=\"api\"} | json | level_extracted=\"x\" |= \"{\"", "{\"level\":\"x\"}");
    ASSERT_EQ(r.kept, 1);
    ASSERT_STR_EQ(get(&r, "level_extracted"), "x");
    arena_free(r.a);
}

TEST(json_parameter_paths_like_loki)
{
    const char *line =
        "{\"app\":\"foo\",\"field with space\":\"value\",\"null_field\":null,\"bool_field\":false,"
        "\"pod\":{\"uuid\":\"foo\",\"deployment\":{\"ref\":\"foobar\", \"params\": "
        "[1,2,3,\"string_value\"]}}}";
    static const struct {
        const char *expr, *want;
    } cases[] = {
        {"[\\\"field with space\\\"]", "value"},
        {"pod.uuid", "foo"},
        {"pod[\\\"uuid\\\"]", "foo"},
        {"[\\\"pod\\\"][\\\"uuid\\\"]", "foo"},
        {"[\\\"pod\\\"].uuid", "foo"},
        {"pod.deployment.params[0]", "1"},
        {"pod.deployment.params[3]", "string_value"},
        {"pod.deployment.params", "[1,2,3,\"string_value\"]"},
        {"pod[\\\"\\\"]", "(absent)"},
        {"null_field", "(absent)"},
        {"bool_field", "false"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char q[256];
        run_t r;
        snprintf(q, sizeof(q), "{app=\"api\"} | json x=\"%s\"", cases[i].expr);
        run(&r, q, line);
        char got[128];
        snprintf(got, sizeof(got), "%s", get(&r, "x"));
        arena_free(r.a);
        if (strcmp(got, cases[i].want) != 0) {
            TEST_FAIL_("`%s`: got `%s` want `%s`", q, got, cases[i].want);
        }
    }
}

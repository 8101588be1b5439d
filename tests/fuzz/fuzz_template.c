/* tests/fuzz/fuzz_template.c - libFuzzer target for the template parser and executor.
 * The first byte picks the function set (Alertmanager with its defaults, Prometheus, Loki,
 * plain, Alertmanager HTML); the rest is template text, parsed and then executed on fixed data under tight
 * limits. Invariant: parse and execute either succeed with no error set, or fail with one
 * (never a crash, leak, hang or unbounded output). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/template.h"

static const char payload[] =
    "{\"receiver\":\"r\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":"
    "{\"alertname\":\"A\",\"i\":\"x\"},\"annotations\":{\"s\":\"t\"},\"startsAt\":"
    "\"2024-01-01T00:00:00Z\"},{\"status\":\"resolved\",\"labels\":{\"alertname\":\"A\"}}],"
    "\"groupLabels\":{\"alertname\":\"A\"},\"commonLabels\":{\"alertname\":\"A\"},"
    "\"externalURL\":\"http://am\",\"l\":[1,2.5,\"s\",null,{\"k\":[true]}]}";

static void check(int rc, const err_t *err)
{
    if ((rc == 0) == (err_is_set(err) != 0)) {
        abort(); /* success with an error, or failure without one */
    }
}

static void run_prom(const char *text)
{
    static const label_t ls[] = {{"instance", "a:1"}, {"job", "j"}};
    tmpl_prom_data_t d = {.labels = ls, .n_labels = 2, .value = 1.5};
    err_t err = {0};
    buf_t out;
    buf_init(&out);
    int rc = tmpl_prom_expand(NULL, "__alert_F", text, &d, &out, &err);
    check(rc, &err);
    buf_fini(&out);
}

static void run_html(const char *text)
{
    err_t err = {0};
    tmpl_t *t = tmpl_new("", TMPL_FUNCS_ALERTMANAGER);
    if (tmpl_add_am_defaults(t, &err) < 0) {
        abort();
    }
    json_t *j = json_loads(payload, 0, NULL);
    tmpl_limits_t lim = {.max_output_bytes = 1 << 16, .max_steps = 20000, .max_depth = 50};
    buf_t out;
    buf_init(&out);
    check(tmpl_am_expand_html(t, text, j, &lim, &out, &err), &err);
    buf_fini(&out);
    json_decref(j);
    tmpl_unref(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    char *text = strndup((const char *)data + 1, size - 1);
    unsigned sel = data[0] % 5;
    if (sel == 1) {
        run_prom(text);
        free(text);
        return 0;
    }
    if (sel == 4) {
        run_html(text);
        free(text);
        return 0;
    }
    unsigned funcs = sel == 0 ? TMPL_FUNCS_ALERTMANAGER : sel == 2 ? TMPL_FUNCS_LOKI : 0;
    tmpl_limits_t lim = {.max_output_bytes = 1 << 16, .max_steps = 20000, .max_depth = 50,
                         .max_arena_bytes = 8u << 20};
    err_t err = {0};
    tmpl_t *t = tmpl_new("f", funcs);
    if (sel == 0 && tmpl_add_am_defaults(t, &err) < 0) {
        abort();
    }
    json_t *j = json_loads(payload, 0, NULL);
    buf_t out;
    buf_init(&out);
    int rc = tmpl_parse(t, "f", text, &err);
    check(rc, &err);
    if (rc == 0) {
        rc = sel == 0   ? tmpl_execute_am(t, NULL, j, &lim, &out, &err)
             : sel == 2 ? tmpl_execute_loki(t, NULL, 0, "line", 1, &lim, &out, &err)
                        : tmpl_execute_json(t, NULL, j, &lim, &out, &err);
        check(rc, &err);
        if (out.len > lim.max_output_bytes) {
            abort();
        }
    }
    buf_fini(&out);
    json_decref(j);
    tmpl_unref(t);
    free(text);
    return 0;
}

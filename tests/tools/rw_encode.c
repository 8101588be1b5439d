/* tests/tools/rw_encode.c - builds Prometheus remote-write 1.0 bodies (protobuf-c + snappy
 * block format) for the storage tests and the ingest benchmark.
 *
 *   rw_encode < samples.txt > body.bin
 *       one WriteRequest from lines `metric{a="b"} <value> <timestamp_ms>`; value may be
 *       NaN, +Inf, -Inf or `stale` (the stale-marker NaN); identical label sets on
 *       consecutive lines become one series with several samples.
 *   rw_encode -gen DIR SERIES STEPS START_MS STEP_MS BATCH [LABELS]
 *       writes DIR/<group>-<step>.bin: series are split in groups of BATCH; each file holds
 *       one sample of each series of a group at one step, as a sender batches them. Each
 *       series has LABELS labels (default 8) besides __name__. Prints the sample count. */
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/labels.h"
#include "common/mem.h"
#include "storage/proto/remote.pb-c.h"
#include "storage/querier.h"

typedef struct {
    Herald__Rw__WriteRequest req;
    size_t cap;
} wr_t;

static Herald__Rw__TimeSeries *wr_series(wr_t *w, const labels_t *ls)
{
    xgrow((void **)&w->req.timeseries, &w->cap, w->req.n_timeseries + 1, sizeof(void *));
    Herald__Rw__TimeSeries *ts = xcalloc(1, sizeof(*ts));
    herald__rw__time_series__init(ts);
    size_t n = labels_len(ls);
    ts->labels = xcalloc(n + 1, sizeof(*ts->labels));
    for (size_t i = 0; i < n; i++) {
        label_t l = labels_at(ls, i);
        Herald__Rw__Label *pl = xcalloc(1, sizeof(*pl));
        herald__rw__label__init(pl);
        pl->name = xstrdup(l.name);
        pl->value = xstrdup(l.value);
        ts->labels[ts->n_labels++] = pl;
    }
    w->req.timeseries[w->req.n_timeseries++] = ts;
    return ts;
}

static void wr_sample(Herald__Rw__TimeSeries *ts, int64_t t, double v)
{
    ts->samples = xrealloc(ts->samples, (ts->n_samples + 1) * sizeof(*ts->samples));
    Herald__Rw__Sample *s = xcalloc(1, sizeof(*s));
    herald__rw__sample__init(s);
    s->timestamp = t;
    s->value = v;
    ts->samples[ts->n_samples++] = s;
}

static void wr_free(wr_t *w)
{
    for (size_t i = 0; i < w->req.n_timeseries; i++) {
        Herald__Rw__TimeSeries *ts = w->req.timeseries[i];
        for (size_t k = 0; k < ts->n_labels; k++) {
            free(ts->labels[k]->name);
            free(ts->labels[k]->value);
            free(ts->labels[k]);
        }
        for (size_t k = 0; k < ts->n_samples; k++) {
            free(ts->samples[k]);
        }
        free(ts->labels);
        free(ts->samples);
        free(ts);
    }
    free(w->req.timeseries);
    memset(w, 0, sizeof(*w));
    herald__rw__write_request__init(&w->req);
}

static int wr_write(wr_t *w, FILE *out)
{
    size_t n = herald__rw__write_request__get_packed_size(&w->req);
    uint8_t *raw = xmalloc(n + 1);
    herald__rw__write_request__pack(&w->req, raw);
    size_t clen = snappy_max_compressed_length(n);
    char *c = xmalloc(clen);
    int rc = snappy_compress((const char *)raw, n, c, &clen) == SNAPPY_OK &&
                     fwrite(c, 1, clen, out) == clen
                 ? 0
                 : -1;
    free(raw);
    free(c);
    return rc;
}

static double parse_value(const char *s)
{
    if (strcmp(s, "stale") == 0) {
        return sample_stale_nan();
    }
    return strtod(s, NULL); /* NaN, +Inf, -Inf included */
}

/* Splits `sel value ts` at the last two spaces. */
static int parse_line(char *line, char **sel, char **val, char **ts)
{
    char *sp2 = strrchr(line, ' ');
    if (sp2 == NULL) {
        return -1;
    }
    *sp2 = '\0';
    char *sp1 = strrchr(line, ' ');
    if (sp1 == NULL) {
        return -1;
    }
    *sp1 = '\0';
    *sel = line;
    *val = sp1 + 1;
    *ts = sp2 + 1;
    return 0;
}

static int encode_stdin(void)
{
    wr_t w = {0};
    herald__rw__write_request__init(&w.req);
    err_t err = {0};
    arena_t *a = arena_new(0, &err);
    char line[65536];
    labels_t *prev = NULL;
    Herald__Rw__TimeSeries *ts = NULL;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sel, *val, *tstr;
        if (line[0] == '\0' || line[0] == '#' || parse_line(line, &sel, &val, &tstr) < 0) {
            continue;
        }
        labels_t *ls = labels_parse(a, sel, &err);
        if (ls == NULL) {
            fprintf(stderr, "rw_encode: %s: %s\n", sel, err.msg);
            return 1;
        }
        if (prev == NULL || !labels_equal(prev, ls)) {
            ts = wr_series(&w, ls);
            prev = ls;
        }
        wr_sample(ts, strtoll(tstr, NULL, 10), parse_value(val));
    }
    int rc = wr_write(&w, stdout);
    wr_free(&w);
    arena_free(a);
    return rc == 0 ? 0 : 1;
}

/* Label set of generated series i: a realistic shape (job/instance/path/code...). */
static labels_t *gen_labels(size_t i, int n_labels)
{
    static const char *const names[] = {"code",   "env", "handler", "instance", "job",
                                        "method", "pod", "region",  "team",     "zone"};
    char vals[12][64];
    label_t ls[12];
    snprintf(vals[0], sizeof(vals[0]), "bench_metric_%zu", i % 50);
    ls[0] = (label_t){"__name__", vals[0]};
    for (int k = 0; k < n_labels && k < 10; k++) {
        snprintf(vals[k + 1], sizeof(vals[k + 1]), "%s-%zu", names[k],
                 (i / (size_t)(k + 1)) % (50 * (size_t)(k + 1)));
        ls[k + 1] = (label_t){names[k], vals[k + 1]};
    }
    snprintf(vals[11], sizeof(vals[11]), "%zu", i);
    ls[n_labels < 10 ? n_labels + 1 : 11] = (label_t){"series_id", vals[11]};
    err_t err = {0};
    return labels_new(ls, (size_t)(n_labels < 10 ? n_labels : 10) + 2, &err);
}

static int generate(char **argv, int argc)
{
    const char *dir = argv[2];
    size_t n_series = strtoull(argv[3], NULL, 10), steps = strtoull(argv[4], NULL, 10);
    int64_t start = strtoll(argv[5], NULL, 10), step_ms = strtoll(argv[6], NULL, 10);
    size_t batch = strtoull(argv[7], NULL, 10);
    int n_labels = argc > 8 ? atoi(argv[8]) : 8;
    labels_t **ls = xcalloc(n_series + 1, sizeof(*ls));
    for (size_t i = 0; i < n_series; i++) {
        ls[i] = gen_labels(i, n_labels);
    }
    for (size_t g = 0; g * batch < n_series; g++) {
        for (size_t s = 0; s < steps; s++) {
            wr_t w = {0};
            herald__rw__write_request__init(&w.req);
            for (size_t i = g * batch; i < n_series && i < (g + 1) * batch; i++) {
                /* counters that grow irregularly, like real ones */
                wr_sample(wr_series(&w, ls[i]), start + (int64_t)s * step_ms,
                          (double)(s * (i % 7 + 1)) + (double)((s * 31 + i) % 3));
            }
            char path[1024];
            snprintf(path, sizeof(path), "%s/%06zu-%06zu.bin", dir, g, s);
            FILE *f = fopen(path, "wb");
            if (f == NULL || wr_write(&w, f) < 0) {
                fprintf(stderr, "rw_encode: cannot write %s\n", path);
                return 1;
            }
            fclose(f);
            wr_free(&w);
        }
    }
    for (size_t i = 0; i < n_series; i++) {
        labels_unref(ls[i]);
    }
    free(ls);
    printf("%zu\n", n_series * steps);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 8 && strcmp(argv[1], "-gen") == 0) {
        return generate(argv, argc);
    }
    if (argc > 1) {
        fprintf(stderr, "usage: rw_encode < samples.txt > body.bin\n"
                        "       rw_encode -gen DIR SERIES STEPS START_MS STEP_MS BATCH [LABELS]\n");
        return 2;
    }
    return encode_stdin();
}

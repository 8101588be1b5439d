/* logql/api_int.h - what the query API's files share: api.c (routes and handlers),
 * api_params.c (Loki's request parameters), api_json.c (Loki's response bodies). Only
 * logql/api*.c and logql/tail.c (the tail's parameters and frames) include it. */
#ifndef HERALD_LOGQL_API_INT_H
#define HERALD_LOGQL_API_INT_H
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"
#include "common/jsonw.h"
#include "logql/api.h"
#include "logql/logql.h"

/* ---- parameters (api_params.c); errors are ERR_BAD_DATA with Loki's texts ----------- */

/* Loki's parseTimestamp: "" -> def; a value with '.' is float seconds; an integer of at most
 * 10 digits is seconds, longer is nanoseconds; otherwise RFC 3339 (nano). */
int logql__api_param_time(const char *v, int64_t def_ns, int64_t *out_ns, err_t *err);
/* start/end/since: end defaults to now, start to min(end, now) - since (1h). */
int logql__api_param_bounds(http_req_t *req, int64_t now_ns, int64_t *start_ns, int64_t *end_ns,
                            err_t *err);
/* limit (default 100, positive) and direction (default backward, case-insensitive). */
int logql__api_param_limit(http_req_t *req, uint32_t *out, err_t *err);
int logql__api_param_direction(http_req_t *req, logql_direction_t *out, err_t *err);
/* Float seconds or a Prometheus duration, in ns ("" -> def_ns). */
int logql__api_param_seconds_or_duration(const char *v, int64_t def_ns, int64_t *out_ns,
                                         err_t *err);

typedef struct {
    int64_t start_ns, end_ns, step_ns, interval_ns;
    uint32_t limit;
    logql_direction_t dir;
} logql__api_range_t;

/* Every parameter rule of query_range, in Loki's order. */
int logql__api_range_args(http_req_t *req, logql__api_range_t *ra, err_t *err);

/* ---- response bodies (api_json.c) -------------------------------------------------- */

/* {"status":"success","data":{"resultType":...,["encodingFlags":[...],]"result":...,
 * "stats":{...}}}. categorize: the categorize-labels encoding flag (streams are then keyed
 * by their stream labels only, entries re-merged in `dir` order). Scratch in `a`. */
void logql__api_write_result(buf_t *out, arena_t *a, const logql_result_t *res, int categorize,
                             logql_direction_t dir);
/* 1 if the request asks for the categorize-labels encoding (X-Loki-Response-Encoding-Flags). */
int logql__api_categorized(http_req_t *req);
/* One stream value: ["<ns>","line"], with categorize a third element
 * {"structuredMetadata":{...},"parsed":{...}} (each only when non-empty; {} when neither). */
void logql__api_write_entry(jsonw_t *w, const logql_entry_t *e, int categorize);
/* The stream labels of a categorized entry: `ls` (the pipeline's full output labels) minus
 * e's structured metadata and parsed labels, as Loki's categorize-labels iterator; in `a`. */
const labels_t *logql__api_stream_labels(arena_t *a, const labels_t *ls, const logql_entry_t *e);
/* The legacy /api/prom/query body: {"stats":{...},"streams":[{"labels":"{...}",
 * "entries":[{"ts":"<RFC3339Nano>","line":"..."}]}]}. */
void logql__api_write_legacy(buf_t *out, const logql_result_t *res);
/* Loki's model.Time.String(): seconds with the milliseconds as needed ("1.5", "100"). */
void logql__api_time_s(int64_t ms, char *out, size_t n);

#endif

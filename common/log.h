/* common/log.h - logfmt logger: `level=info ts=2025-03-02T10:04:05.123Z caller=dir/file.c:141
 * msg="..." key=value ...`, one line per call, written atomically to stderr. Thread-safe.
 * Usage: LOG_INFO("listening", KV_STR("addr", a), KV_INT("port", p)); */
#ifndef HERALD_COMMON_LOG_H
#define HERALD_COMMON_LOG_H
#include <stdint.h>

typedef enum { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level_t;

typedef enum { KV_T_STR, KV_T_INT, KV_T_FLOAT, KV_T_END } kv_type_t;
typedef struct {
    const char *key;
    kv_type_t type;
    const char *s;
    int64_t i;
    double f;
} log_kv_t;

#define KV_STR(k, v) ((log_kv_t){.key = (k), .type = KV_T_STR, .s = (v)})
#define KV_INT(k, v) ((log_kv_t){.key = (k), .type = KV_T_INT, .i = (int64_t)(v)})
#define KV_FLOAT(k, v) ((log_kv_t){.key = (k), .type = KV_T_FLOAT, .f = (double)(v)})
#define KV_END_ ((log_kv_t){.type = KV_T_END})

void log_set_level(log_level_t level);
/* "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_parse_level(const char *s, log_level_t *out);
int log_enabled(log_level_t level);
/* Redirect output (tests); NULL restores stderr. */
void log_set_fd(int fd);
void log_write(log_level_t level, const char *file, int line, const char *msg,
               const log_kv_t *kvs);

#define LOG_AT_(lvl, msg, ...)                                                              \
    do {                                                                                    \
        if (log_enabled(lvl)) {                                                             \
            const log_kv_t kvs_[] = {__VA_ARGS__ __VA_OPT__(, ) KV_END_};                   \
            log_write(lvl, __FILE__, __LINE__, msg, kvs_);                                  \
        }                                                                                   \
    } while (0)
#define LOG_DEBUG(msg, ...) LOG_AT_(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...) LOG_AT_(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...) LOG_AT_(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define LOG_ERROR(msg, ...) LOG_AT_(LOG_LEVEL_ERROR, msg, __VA_ARGS__)

#endif

/* common/err.c - see err.h. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_TYPE_(code, type, status) [code] = type,
#define ERR_STATUS_(code, type, status) [code] = status,
static const char *const err_types[ERR_COUNT_] = {[ERR_NONE] = "", ERR_CODES(ERR_TYPE_)};
static const int err_statuses[ERR_COUNT_] = {[ERR_NONE] = 200, ERR_CODES(ERR_STATUS_)};

int err_set(err_t *err, err_code_t code, const char *fmt, ...)
{
    if (err == NULL || err->code != ERR_NONE) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return -1;
}

int err_wrap(err_t *err, const char *fmt, ...)
{
    if (err == NULL || err->code == ERR_NONE) {
        return -1;
    }
    char prefix[256], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    int n = snprintf(err->msg, sizeof(err->msg), "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof(err->msg)) {
        snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, "%s", old);
    }
    return -1;
}

void err_clear(err_t *err)
{
    err->code = ERR_NONE;
    err->msg[0] = '\0';
}

int err_is_set(const err_t *err)
{
    return err != NULL && err->code != ERR_NONE;
}

const char *err_type(err_code_t code)
{
    return code < ERR_COUNT_ ? err_types[code] : "internal";
}

int err_status(err_code_t code)
{
    return code < ERR_COUNT_ ? err_statuses[code] : 500;
}

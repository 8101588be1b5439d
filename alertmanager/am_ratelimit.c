/* alertmanager/am_ratelimit.c - Mimir's per-tenant notification rate limits
 * (alertmanager_notification_rate_limit and its per-integration overrides).
 *
 * DESIGN: Mimir wraps every integration of a tenant's config in a rateLimitedNotifier, whose
 * golang.org/x/time/rate limiter is a token bucket that starts full and is rebuilt with the
 * config. Here a bucket per integration lives in the tenant (tenant->limiters, under mu) and
 * is dropped when a config is applied. The limit is read at every notification; a changed
 * rate or burst is applied as Limiter.SetLimitAt/SetBurstAt do: the tokens are first brought
 * up to date under the old values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "alertmanager/am_int.h"
#include "common/mem.h"

typedef struct {
    double rate;  /* tokens per second; INFINITY: no limit */
    double burst; /* bucket size */
    double tokens;
    int64_t last_ns;
} bucket_t;

/* Mimir's NotificationRateLimit: 0 (or NaN) and +inf mean no limit; a negative rate lets
 * nothing through. */
static double normalized_rate(double r)
{
    if (!(r > 0) && !(r < 0)) {
        return INFINITY;
    }
    return r < 0 ? 0 : r;
}

/* Mimir's NotificationBurstSize: the rate rounded down, at least 1, 0 for a zero rate, and
 * Go's maxInt for no limit. */
double am__ratelimit_burst(double rate)
{
    double l = normalized_rate(rate);
    if (l == 0) {
        return 0;
    }
    if (l >= (double)INT64_MAX) {
        return (double)INT64_MAX;
    }
    return l < 1 ? 1 : floor(l);
}

/* Limiter.advance: the tokens earned since last_ns, capped at the burst. */
static void advance(bucket_t *b, int64_t now_ns)
{
    if (now_ns > b->last_ns) {
        double secs = (double)(now_ns - b->last_ns) / AM_NS_PER_S;
        b->tokens += isinf(b->rate) ? b->burst : secs * b->rate;
        b->last_ns = now_ns;
    }
    if (b->tokens > b->burst) {
        b->tokens = b->burst;
    }
}

int am__ratelimit_allow(am_tenant_t *t, const char *recv, const am_integration_t *in,
                        int64_t now_ns)
{
    const char *kind = am__recv_kind_name(in->kind);
    double raw = am__tenant_rate_limit(t, kind);
    double rate = normalized_rate(raw), burst = am__ratelimit_burst(raw);
    buf_t key;
    buf_init(&key);
    buf_printf(&key, "%s/%s/%d", recv, kind, in->index);
    bucket_t *b = hashmap_get(&t->limiters, key.data);
    if (b == NULL) {
        b = xcalloc(1, sizeof(*b));
        *b = (bucket_t){.rate = rate, .burst = burst, .tokens = burst, .last_ns = now_ns};
        hashmap_put(&t->limiters, key.data, b);
    } else if (b->rate != rate || b->burst != burst) {
        advance(b, now_ns);
        b->rate = rate;
        b->burst = burst;
    }
    buf_fini(&key);
    if (isinf(b->rate)) {
        return 1;
    }
    advance(b, now_ns);
    /* One token per notification, however many alerts it carries. */
    if (b->tokens < 1) {
        return 0;
    }
    b->tokens -= 1;
    return 1;
}

void am__ratelimit_fini(am_tenant_t *t)
{
    hashmap_fini(&t->limiters, free);
}

void am__ratelimit_reset(am_tenant_t *t)
{
    am__ratelimit_fini(t);
    hashmap_init(&t->limiters);
}

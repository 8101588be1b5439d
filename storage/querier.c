/* storage/querier.c - shared helpers of the querier interface. */
#include "storage/querier.h"

#include <string.h>

int sample_is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits == STALE_NAN_BITS;
}

double sample_stale_nan(void)
{
    uint64_t bits = STALE_NAN_BITS;
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

/* common/gofloat.h - Go's strconv.FormatFloat(v, fmt, prec, 64), the one float formatter of
 * herald: Prometheus sample values, the metrics exposition, encoding/json numbers, template
 * printf verbs and PromQL expression text all print floats through it, so their bytes match
 * the Go programs herald replaces. Pure functions on caller storage; thread-safe. */
#ifndef HERALD_COMMON_GOFLOAT_H
#define HERALD_COMMON_GOFLOAT_H
#include <stddef.h>

#include "common/buf.h"

/* Longest text of a shortest (prec -1) form: "-0." + 323 zeros + 17 digits, or 309 integer
 * digits; a buffer of this size never truncates those. */
#define GOFLOAT_SHORTEST_MAX 352

/* strconv.FormatFloat(v, fmt, prec, 64) for fmt in 'e' 'E' 'f' 'g' 'G'; prec -1 is Go's
 * shortest form that parses back to v (the closest of the shortest), prec >= 0 rounds the
 * exact binary value half-to-even. NaN -> "NaN", infinities -> "+Inf" / "-Inf", -0 keeps its
 * sign. Writes at most n-1 bytes plus NUL (n may be 0); returns the full length, as
 * snprintf does. Another fmt letter is treated as 'g'. */
size_t gofloat_format(double v, char fmt, int prec, char *out, size_t n);
/* The same text appended to out. */
void gofloat_append(buf_t *out, double v, char fmt, int prec);

/* A sample value as Prometheus 2.x writes it in API responses and alerts: Go's 'f' with
 * prec -1 (1e21 -> "1000000000000000000000", 1e-7 -> "0.0000001", -0 -> "-0", "NaN",
 * "+Inf", "-Inf"). Same contract as gofloat_format. */
size_t gofloat_prom(double v, char *out, size_t n);

/* A finite v as Go's encoding/json writes a float64: shortest digits, exponent form outside
 * [1e-6, 1e21) with e-7 rather than e-07 (1e+21, 1.25e-10, 300). Contract as above. */
size_t gofloat_json(double v, char *out, size_t n);

#endif

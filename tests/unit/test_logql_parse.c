/* tests/unit/test_logql_parse.c - the LogQL parser, printer and planner: valid queries
 * print as Loki's Expr.String() does (and reprint identically), invalid ones fail with
 * Loki's error text and position, every metric query plans into PromQL that promql_parse
 * accepts, and logql_set_matcher edits every selector. */
#include <stdio.h>
#include <string.h>

#include "common/arena.h"
#include "logql/logql.h"
#include "promql/promql.h"
#include "test.h"

typedef struct {
    const char *in;
    const char *out; /* NULL: prints as written */
} fmt_case_t;

static const fmt_case_t fmt_cases[] = {
    {"sum by (a) (rate({a=\"b\"}[1m])) / on (a) group_left (a,b) rate({a=\"b\"}[1m])",
     "(sum by (a)(rate({a=\"b\"}[1m])) / on (a) group_left (a,b) rate({a=\"b\"}[1m]))"},
    /* Literals where a vector is needed plan as vector(n); set operators drop group_x. */
    {"sum(1)", NULL},
    {"topk(2, 5)", "topk(2,5)"},
    {"label_replace(1, \"a\", \"b\", \"c\", \"d\")", "label_replace(1,\"a\",\"b\",\"c\",\"d\")"},
    {"rate({a=\"b\"}[1m]) and on (a) group_left rate({a=\"c\"}[1m])",
     "(rate({a=\"b\"}[1m]) and on (a) group_left rate({a=\"c\"}[1m]))"},
    {"rate({a=\"b\"}[1m]) > on(a) 1", "(rate({a=\"b\"}[1m]) > on (a)  1)"},
    /* Loki's own serialisation round-trip texts (pkg/logql/syntax). */
    {"{env=\"prod\", app=~\"loki.*\"}", NULL},
    {"count_over_time({env=\"prod\", app=~\"loki.*\"}[5m])", NULL},
    {"sum_over_time({env=\"prod\", app=~\"loki.*\"} | unwrap bytes[5m])", NULL},
    {"(count_over_time({env=\"prod\", app=~\"loki.*\"}[5m]) >= 0)", NULL},
    {"{app=\"foo\"} |= \"bar\" | json | ( latency>=250ms or ( status_code<500 , status_code>200 ) "
     ")",
     NULL},
    {"{env=\"prod\", app=~\"loki.*\"} |~ \".*foo.*\"", NULL},
    {"{env=\"prod\", app=~\"loki.*\"} |= \"foo\" |= \"bar\" or \"baz\" | line_format \"blip{{ .foo "
     "}}blop\" |= \"blip\"",
     NULL},
    {"(sum by (cluster)(rate({foo=\"bar\"}[5m])) / ignoring (cluster)  "
     "count(rate({foo=\"bar\"}[5m])))",
     NULL},
    {"(sum(count_over_time({foo=\"bar\"}[5m])) or vector(1.000000))", NULL},
    {"label_replace(vector(0.000000),\"foo\",\"bar\",\"\",\"\")", NULL},
    {"{app=\"foo\"} |= \"bar\" | json | ( status_code <500 or ( status_code>200 , size>=2.5KiB ) )",
     "{app=\"foo\"} |= \"bar\" | json | ( status_code<500 or ( status_code>200 , size>=2.6kB ) )"},
    {"rate({app=\"foo\"} | json | unwrap foo | latency >= 250ms or bytes=~\".*\" [1m])",
     "rate({app=\"foo\"} | json | unwrap foo | ( latency>=250ms or bytes=~\".*\" )[1m])"},
    {"rate({app=\"foo\"} |= \"bar\" | json | unwrap latency | path!=\"\" [5m])",
     "rate({app=\"foo\"} |= \"bar\" | json | unwrap latency | path!=\"\"[5m])"},
    {"{foo=\"bar\"}", NULL},
    {"{foo=\"bar\", bar!=\"baz\"} != \"bip\" !~ \".+bop\"", NULL},
    {"{foo=\"bar\"} |= \"baz\" |~ \"blip\" |> \"qux\" !> \"waldo\" != \"flip\" !~ \"flap\"", NULL},
    {"{foo=\"bar\", bar!=\"baz\"} |= \"\" |= ip(\"::1\")", NULL},
    {"{foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\" | logfmt --strict --keep-empty",
     NULL},
    {"{foo=\"bar\"} |= \"baz\" | unpack | foo>5", NULL},
    {"{foo=\"bar\"} | pattern \"<foo> bar <buzz>\" | foo>5", NULL},
    {"{foo=\"bar\"} | logfmt | b>=10GB", NULL},
    {"{foo=\"bar\"} | logfmt | b=ip(\"127.0.0.1\") | level=\"error\"", NULL},
    {"{foo=\"bar\"} | logfmt --strict b=\"foo\" | b=ip(\"127.0.0.1\")", NULL},
    {"{foo=\"bar\"} | regexp \"(?P<foo>foo|bar)\" | ( ( foo<5.01 , bar>20ms ) or foo=\"bar\" ) | "
     "line_format \"blip{{.boop}}bap\" | label_format foo=bar,bar=\"blip{{.blop}}\"",
     NULL},
    {"{foo=\"bar\"} | logfmt | counter>-1 | counter>=-1 | counter<-1 | counter<=-1 | counter!=-1 | "
     "counter==-1",
     NULL},
    {"rate( ( {job=\"mysql\"} |=\"error\" !=\"timeout\" ) [10s] )>-1",
     "(rate({job=\"mysql\"} |= \"error\" != \"timeout\"[10s]) > -1)"},
    {"absent_over_time( ( {job=\"mysql\"} |=\"error\" !=\"timeout\" ) [10s] offset 10d )",
     "absent_over_time({job=\"mysql\"} |= \"error\" != \"timeout\"[10s] offset 240h0m0s)"},
    {"vector(123)", "vector(123.000000)"},
    {"sort(sum by(a) (rate( ( {job=\"mysql\"} |=\"error\" !=\"timeout\" ) [10s] ) ))",
     "sort(sum by (a)(rate({job=\"mysql\"} |= \"error\" != \"timeout\"[10s])))"},
    {"sum without(a) ( rate ( ( {job=\"mysql\"} |=\"error\" !=\"timeout\" ) [10s] ) )",
     "sum without (a)(rate({job=\"mysql\"} |= \"error\" != \"timeout\"[10s]))"},
    {"sum(count_over_time({job=\"mysql\"} | json [5m] offset 10m))",
     "sum(count_over_time({job=\"mysql\"} | json[5m] offset 10m0s))"},
    {"topk(10,sum(rate({region=\"us-east1\"}[5m])) by (name))",
     "topk(10,sum by (name)(rate({region=\"us-east1\"}[5m])))"},
    {"topk by (name)(10,sum(rate({region=\"us-east1\"}[5m])))", NULL},
    {"avg(min_over_time({job=\"nginx\"} |= \"GET\" | unwrap foo[10s] offset 10m)) by (region)",
     "avg by (region)(min_over_time({job=\"nginx\"} |= \"GET\" | unwrap foo[10s] offset 10m0s))"},
    {"sum by (cluster) (count_over_time({job=\"mysql\"}[5m])) / sum by (cluster) "
     "(count_over_time({job=\"postgres\"}[5m]))",
     "(sum by (cluster)(count_over_time({job=\"mysql\"}[5m])) / sum by "
     "(cluster)(count_over_time({job=\"postgres\"}[5m])))"},
    {"stdvar_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 "
     "and status_code > 200) | line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format "
     "foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m])",
     "stdvar_over_time({app=\"foo\"} |= \"bar\" | json | ( latency>=250ms or ( status_code<500 , "
     "status_code>200 ) ) | line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format "
     "foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo[5m])"},
    {"sum_over_time({namespace=\"tns\"} |= \"level=error\" | json |foo>=5,bar<25ms|unwrap latency "
     "[5m])",
     "sum_over_time({namespace=\"tns\"} |= \"level=error\" | json | ( foo>=5 , bar<25ms ) | unwrap "
     "latency[5m])"},
    {"sum_over_time({namespace=\"tns\"} |= \"level=error\" | json |foo>=5,bar<25ms | unwrap "
     "latency | __error__!~\".*\" | foo >5[5m])",
     "sum_over_time({namespace=\"tns\"} |= \"level=error\" | json | ( foo>=5 , bar<25ms ) | unwrap "
     "latency | __error__!~\".*\" | foo>5[5m])"},
    {"label_replace(sum by (job) (sum_over_time({namespace=\"tns\"} |= \"level=error\" | json | "
     "avg=5 and bar<25ms | unwrap duration(latency)  | __error__!~\".*\" [5m] offset "
     "1h)),\"foo\",\"$1\",\"service\",\"(.*):.*\")",
     "label_replace(sum by (job)(sum_over_time({namespace=\"tns\"} |= \"level=error\" | json | ( "
     "avg==5 , bar<25ms ) | unwrap duration(latency) | __error__!~\".*\"[5m] offset "
     "1h0m0s)),\"foo\",\"$1\",\"service\",\"(.*):.*\")"},
    {"10 / (5/2)", "4"},
    {"(count_over_time({job=\"postgres\"}[5m])/2) or vector(2)",
     "((count_over_time({job=\"postgres\"}[5m]) / 2) or vector(2.000000))"},
    {"{app=\"foo\"} | json response_status=\"response.status.code\", "
     "first_param=\"request.params[0]\"",
     "{app=\"foo\"} | json "
     "response_status=\"response.status.code\",first_param=\"request.params[0]\""},
    {"{app=\"foo\"} | logfmt code=\"response.code\", IPAddress=\"host\"",
     "{app=\"foo\"} | logfmt code=\"response.code\",IPAddress=\"host\""},
    {"1 > 1 > 1", "0"},
    {"1 > bool 1 > count_over_time({foo=\"bar\"}[1m])", "(0 > count_over_time({foo=\"bar\"}[1m]))"},
    {"{app=\"foo\"} != ip(\"10.0.0.0/8\") or ip(\"192.168.0.0/16\") or \"baz\"",
     "{app=\"foo\"} != ip(\"10.0.0.0/8\") != ip(\"192.168.0.0/16\") != \"baz\""},
    {"{app=\"foo\"} |= \"foo\" or \"bar\" or \"baz\" != \"car\" != \"a\" or \"b\" or \"c\"",
     "{app=\"foo\"} |= \"foo\" or \"bar\" or \"baz\" != \"car\" != \"a\" != \"b\" != \"c\""},
    {"sum by (a) (rate({a=\"b\"}[1m])) / on (a) group_left (b) sum by (a,b) (rate({a=\"b\"}[1m]))",
     "(sum by (a)(rate({a=\"b\"}[1m])) / on (a) group_left (b) sum by (a,b)(rate({a=\"b\"}[1m])))"},
    {"sum(rate({a=\"b\"}[1m])) > bool ignoring (x) 1",
     "(sum(rate({a=\"b\"}[1m])) > bool ignoring (x)  1)"},
    {"quantile_over_time(0.99, {a=\"b\"} | logfmt | unwrap bytes(size) [5m]) by (a)",
     "quantile_over_time(0.99,{a=\"b\"} | logfmt | unwrap bytes(size)[5m]) by (a)"},
    {"{a=\"b\"} | drop a, b=\"v\", c=~\"x.*\" | keep d, e!=\"f\"",
     "{a=\"b\"} | drop a,b=\"v\",c=~\"x.*\" | keep d,e!=\"f\""},
    {"{a=\"b\"} | decolorize | label_format x=\"{{.y}}\"", NULL},
    {"approx_topk(5, sum by (a) (count_over_time({a=\"b\"}[1m])))",
     "approx_topk(5,sum by (a)(count_over_time({a=\"b\"}[1m])))"},
    {"count_over_time({a=\"b\"} [5m] | json | x=\"y\")",
     "count_over_time({a=\"b\"} | json | x=\"y\"[5m])"},
    {"1 + -1", "0"},
    {"-2 * count_over_time({a=\"b\"}[1m])", "(-2 * count_over_time({a=\"b\"}[1m]))"},
    {"{app=\"foo\"}", NULL},
    {"{app=\"foo\", env=~\"prod|dev\", team!=\"x\", region!~\"eu.*\"}", NULL},
    {"{app=\"foo\"} |= \"error\"", NULL},
    {"{app=\"foo\"} != \"debug\"", NULL},
    {"{app=\"foo\"} |~ \"err(or)?\"", NULL},
    {"{app=\"foo\"} !~ \"^GET\"", NULL},
    {"{app=\"foo\"} |> \"<_> error <_>\"", NULL},
    {"{app=\"foo\"} !> \"<_> GET <_>\"", NULL},
    {"{app=\"foo\"} |= `back\\tick`", "{app=\"foo\"} |= \"back\\\\tick\""},
    {"{app=\"foo\"} |= \"tab\\there\"", NULL},
    {"{app=\"foo\"} |= \"quote\\\"inside\"", NULL},
    {"{app=\"foo\"} |= \"unicode ☃\"", NULL},
    {"{app=\"foo\"} |= ip(\"192.168.0.1\")", NULL},
    {"{app=\"foo\"} != ip(\"10.0.0.0/8\")", NULL},
    {"{app=\"foo\"} |= ip(\"192.168.0.1-192.168.0.9\")", NULL},
    {"{app=\"foo\"} |= \"a\" or \"b\"", NULL},
    {"{app=\"foo\"} |~ \"a\" or \"b\" or \"c\"", NULL},
    {"{app=\"foo\"} |= \"a\" or ip(\"1.1.1.1\")", NULL},
    {"{app=\"foo\"} |> \"<_>a<_>\" or \"<_>b<_>\"", NULL},
    {"{app=\"foo\"} !~ \"a\" or \"b\"", "{app=\"foo\"} !~ \"a\" !~ \"b\""},
    {"{app=\"foo\"} !> \"<_>a\" or \"<_>b\"", "{app=\"foo\"} !> \"<_>a\" !> \"<_>b\""},
    {"{app=\"foo\"} | json", NULL},
    {"{app=\"foo\"} | logfmt", NULL},
    {"{app=\"foo\"} | logfmt --strict", NULL},
    {"{app=\"foo\"} | logfmt --keep-empty", NULL},
    {"{app=\"foo\"} | unpack", NULL},
    {"{app=\"foo\"} | regexp \"(?P<method>\\\\w+) (?P<path>\\\\S+)\"", NULL},
    {"{app=\"foo\"} | pattern \"<ip> - <_> [<ts>] \\\"<method> <path> <_>\\\" <status> <size>\"",
     NULL},
    {"{app=\"foo\"} | json | level=\"error\"", NULL},
    {"{app=\"foo\"} | json | level=~\"err.*\"", NULL},
    {"{app=\"foo\"} | json | level!~\"debug|info\"", NULL},
    {"{app=\"foo\"} | logfmt | status>=400", NULL},
    {"{app=\"foo\"} | logfmt | status==200", NULL},
    {"{app=\"foo\"} | logfmt | status=200", "{app=\"foo\"} | logfmt | status==200"},
    {"{app=\"foo\"} | logfmt | status!=500", NULL},
    {"{app=\"foo\"} | logfmt | ratio<0.5", NULL},
    {"{app=\"foo\"} | logfmt | ratio<=1e3", "{app=\"foo\"} | logfmt | ratio<=1000"},
    {"{app=\"foo\"} | logfmt | latency>10s", NULL},
    {"{app=\"foo\"} | logfmt | latency>=1.5s", NULL},
    {"{app=\"foo\"} | logfmt | latency<250ms", NULL},
    {"{app=\"foo\"} | logfmt | latency==1m30s", NULL},
    {"{app=\"foo\"} | logfmt | latency>1h", "{app=\"foo\"} | logfmt | latency>1h0m0s"},
    {"{app=\"foo\"} | logfmt | size>20MB", NULL},
    {"{app=\"foo\"} | logfmt | size>20MiB", "{app=\"foo\"} | logfmt | size>21MB"},
    {"{app=\"foo\"} | logfmt | size<=1kB", "{app=\"foo\"} | logfmt | size<=1.0kB"},
    {"{app=\"foo\"} | logfmt | size>5B", NULL},
    {"{app=\"foo\"} | logfmt | addr=ip(\"10.0.0.0/8\")", NULL},
    {"{app=\"foo\"} | logfmt | addr!=ip(\"10.0.0.1\")", NULL},
    {"{app=\"foo\"} | logfmt | a=\"1\" and b=\"2\"",
     "{app=\"foo\"} | logfmt | ( a=\"1\" , b=\"2\" )"},
    {"{app=\"foo\"} | logfmt | a=\"1\" or b=\"2\"",
     "{app=\"foo\"} | logfmt | ( a=\"1\" or b=\"2\" )"},
    {"{app=\"foo\"} | logfmt | a=\"1\", b=\"2\"", "{app=\"foo\"} | logfmt | ( a=\"1\" , b=\"2\" )"},
    {"{app=\"foo\"} | logfmt | a=\"1\" b=\"2\"", "{app=\"foo\"} | logfmt | ( a=\"1\" , b=\"2\" )"},
    {"{app=\"foo\"} | logfmt | a=\"1\" and b=\"2\" or c=\"3\"",
     "{app=\"foo\"} | logfmt | ( ( a=\"1\" , b=\"2\" ) or c=\"3\" )"},
    {"{app=\"foo\"} | logfmt | a=\"1\" or b=\"2\" and c=\"3\"",
     "{app=\"foo\"} | logfmt | ( a=\"1\" or ( b=\"2\" , c=\"3\" ) )"},
    {"{app=\"foo\"} | logfmt | a=\"1\" , b=\"2\" or c=\"3\"",
     "{app=\"foo\"} | logfmt | ( a=\"1\" , ( b=\"2\" or c=\"3\" ) )"},
    {"{app=\"foo\"} | logfmt | (a=\"1\" or b=\"2\") and c=\"3\"",
     "{app=\"foo\"} | logfmt | ( ( a=\"1\" or b=\"2\" ) , c=\"3\" )"},
    {"{app=\"foo\"} | logfmt | __error__=\"\"", NULL},
    {"{app=\"foo\"} | logfmt | __error__!=\"LogfmtParserErr\"", NULL},
    {"{app=\"foo\"} | line_format \"{{.level}}: {{__line__}}\"", NULL},
    {"{app=\"foo\"} | label_format dst=src", NULL},
    {"{app=\"foo\"} | label_format new=\"{{.a}}-{{.b}}\", other=old",
     "{app=\"foo\"} | label_format new=\"{{.a}}-{{.b}}\",other=old"},
    {"{app=\"foo\"} | drop level", NULL},
    {"{app=\"foo\"} | drop level, method=\"GET\", __error__",
     "{app=\"foo\"} | drop level,method=\"GET\",__error__"},
    {"{app=\"foo\"} | keep level, method", "{app=\"foo\"} | keep level,method"},
    {"{app=\"foo\"} | keep level, method!=\"GET\"", "{app=\"foo\"} | keep level,method!=\"GET\""},
    {"{app=\"foo\"} | decolorize", NULL},
    {"{app=\"foo\"} | json first=\"a.b\", second=\"c[0]\", third=\"[\\\"d e\\\"]\"",
     "{app=\"foo\"} | json first=\"a.b\",second=\"c[0]\",third=\"[\\\"d e\\\"]\""},
    {"{app=\"foo\"} | json a", "{app=\"foo\"} | json a=\"a\""},
    {"{app=\"foo\"} | logfmt --strict --keep-empty a, b=\"c\"",
     "{app=\"foo\"} | logfmt --strict --keep-empty a=\"a\",b=\"c\""},
    {"{app=\"foo\"} |= \"x\" | json | line_format \"{{.msg}}\" |= \"y\" | logfmt | level=\"warn\"",
     NULL},
    {"{app=\"foo\"} | json | duration > 2s | line_format `{{.duration}}`",
     "{app=\"foo\"} | json | duration>2s | line_format \"{{.duration}}\""},
    {"({app=\"foo\"} |= \"x\")", "{app=\"foo\"} |= \"x\""},
    {"{ app = \"foo\" , env = \"prod\" }", "{app=\"foo\", env=\"prod\"}"},
    {"{app=\"foo\"}|=\"x\"|json|a>1", "{app=\"foo\"} |= \"x\" | json | a>1"},
    {"{app=\"foo\"} # comment here", "{app=\"foo\"}"},
    {"{APP=\"foo\"}", NULL},
    {"{app=\"foo\"} |= \"x\" | LOGFMT", "{app=\"foo\"} |= \"x\" | logfmt"},
    {"{app=\"foo\"} | logfmt | Level=\"x\"", NULL},
    {"{app=\"foo\"} | json | level=`err`", "{app=\"foo\"} | json | level=\"err\""},
    {"count_over_time({app=\"foo\"}[5m])", NULL},
    {"rate({app=\"foo\"} |= \"error\" [1m])", "rate({app=\"foo\"} |= \"error\"[1m])"},
    {"bytes_over_time({app=\"foo\"}[1h])", NULL},
    {"bytes_rate({app=\"foo\"}[30s])", NULL},
    {"absent_over_time({app=\"foo\"}[5m])", NULL},
    {"rate_counter({app=\"foo\"} | logfmt | unwrap total [5m])",
     "rate_counter({app=\"foo\"} | logfmt | unwrap total[5m])"},
    {"sum_over_time({app=\"foo\"} | logfmt | unwrap bytes [5m])",
     "sum_over_time({app=\"foo\"} | logfmt | unwrap bytes[5m])"},
    {"avg_over_time({app=\"foo\"} | logfmt | unwrap latency [5m]) by (host)",
     "avg_over_time({app=\"foo\"} | logfmt | unwrap latency[5m]) by (host)"},
    {"max_over_time({app=\"foo\"} | logfmt | unwrap duration(latency) [5m]) without (pod)",
     "max_over_time({app=\"foo\"} | logfmt | unwrap duration(latency)[5m]) without (pod)"},
    {"min_over_time({app=\"foo\"} | logfmt | unwrap duration_seconds(latency) [5m])",
     "min_over_time({app=\"foo\"} | logfmt | unwrap duration_seconds(latency)[5m])"},
    {"stddev_over_time({app=\"foo\"} | logfmt | unwrap bytes(size) [5m])",
     "stddev_over_time({app=\"foo\"} | logfmt | unwrap bytes(size)[5m])"},
    {"stdvar_over_time({app=\"foo\"} | logfmt | unwrap size [5m]) by ()",
     "stdvar_over_time({app=\"foo\"} | logfmt | unwrap size[5m]) by ()"},
    {"first_over_time({app=\"foo\"} | logfmt | unwrap v [1m])",
     "first_over_time({app=\"foo\"} | logfmt | unwrap v[1m])"},
    {"last_over_time({app=\"foo\"} | logfmt | unwrap v [1m]) by (a, b)",
     "last_over_time({app=\"foo\"} | logfmt | unwrap v[1m]) by (a,b)"},
    {"quantile_over_time(0.95, {app=\"foo\"} | json | unwrap latency [5m]) by (path)",
     "quantile_over_time(0.95,{app=\"foo\"} | json | unwrap latency[5m]) by (path)"},
    {"rate({app=\"foo\"} | logfmt | unwrap v [5m])", "rate({app=\"foo\"} | logfmt | unwrap v[5m])"},
    {"count_over_time({app=\"foo\"}[5m] offset 1h)",
     "count_over_time({app=\"foo\"}[5m] offset 1h0m0s)"},
    {"count_over_time({app=\"foo\"}[1h30m])", NULL},
    {"count_over_time({app=\"foo\"}[90s])", "count_over_time({app=\"foo\"}[1m30s])"},
    {"count_over_time({app=\"foo\"}[1d])", NULL},
    {"count_over_time({app=\"foo\"}[1w])", NULL},
    {"count_over_time(({app=\"foo\"})[5m])", "count_over_time({app=\"foo\"}[5m])"},
    {"count_over_time(({app=\"foo\"} |= \"x\")[5m])",
     "count_over_time({app=\"foo\"} |= \"x\"[5m])"},
    {"count_over_time(({app=\"foo\"} |= \"x\" [5m]))",
     "count_over_time({app=\"foo\"} |= \"x\"[5m])"},
    {"sum_over_time({app=\"foo\"} | logfmt | unwrap v | v > 5 [5m])",
     "sum_over_time({app=\"foo\"} | logfmt | unwrap v | v>5[5m])"},
    {"sum_over_time({app=\"foo\"} [5m] | logfmt | unwrap v)",
     "sum_over_time({app=\"foo\"} | logfmt | unwrap v[5m])"},
    {"sum_over_time({app=\"foo\"} | unwrap v [5m] offset 5m)",
     "sum_over_time({app=\"foo\"} | unwrap v[5m] offset 5m0s)"},
    {"sum(count_over_time({app=\"foo\"}[5m]))", NULL},
    {"sum by (level) (count_over_time({app=\"foo\"} | json [5m]))",
     "sum by (level)(count_over_time({app=\"foo\"} | json[5m]))"},
    {"sum without (pod) (count_over_time({app=\"foo\"}[5m]))",
     "sum without (pod)(count_over_time({app=\"foo\"}[5m]))"},
    {"sum(count_over_time({app=\"foo\"}[5m])) by (level)",
     "sum by (level)(count_over_time({app=\"foo\"}[5m]))"},
    {"sum by () (count_over_time({app=\"foo\"}[5m]))", "sum(count_over_time({app=\"foo\"}[5m]))"},
    {"sum without () (count_over_time({app=\"foo\"}[5m]))",
     "sum without ()(count_over_time({app=\"foo\"}[5m]))"},
    {"avg(rate({app=\"foo\"}[5m]))", NULL},
    {"min(rate({app=\"foo\"}[5m]))", NULL},
    {"max(rate({app=\"foo\"}[5m]))", NULL},
    {"count(rate({app=\"foo\"}[5m]))", NULL},
    {"stddev(rate({app=\"foo\"}[5m]))", NULL},
    {"stdvar(rate({app=\"foo\"}[5m]))", NULL},
    {"topk(5, rate({app=\"foo\"}[5m]))", "topk(5,rate({app=\"foo\"}[5m]))"},
    {"bottomk(3, sum by (a) (rate({app=\"foo\"}[5m])))",
     "bottomk(3,sum by (a)(rate({app=\"foo\"}[5m])))"},
    {"sort(rate({app=\"foo\"}[5m]))", NULL},
    {"sort_desc(rate({app=\"foo\"}[5m]))", NULL},
    {"approx_topk(10, rate({app=\"foo\"}[5m]))", "approx_topk(10,rate({app=\"foo\"}[5m]))"},
    {"sum(rate({app=\"foo\"}[5m])) + sum(rate({app=\"bar\"}[5m]))",
     "(sum(rate({app=\"foo\"}[5m])) + sum(rate({app=\"bar\"}[5m])))"},
    {"sum(rate({app=\"foo\"}[5m])) - 1", "(sum(rate({app=\"foo\"}[5m])) - 1)"},
    {"sum(rate({app=\"foo\"}[5m])) * 2", "(sum(rate({app=\"foo\"}[5m])) * 2)"},
    {"sum(rate({app=\"foo\"}[5m])) / 60", "(sum(rate({app=\"foo\"}[5m])) / 60)"},
    {"sum(rate({app=\"foo\"}[5m])) % 7", "(sum(rate({app=\"foo\"}[5m])) % 7)"},
    {"sum(rate({app=\"foo\"}[5m])) ^ 2", "(sum(rate({app=\"foo\"}[5m])) ^ 2)"},
    {"sum(rate({app=\"foo\"}[5m])) > 10", "(sum(rate({app=\"foo\"}[5m])) > 10)"},
    {"sum(rate({app=\"foo\"}[5m])) >= 10", "(sum(rate({app=\"foo\"}[5m])) >= 10)"},
    {"sum(rate({app=\"foo\"}[5m])) < 10", "(sum(rate({app=\"foo\"}[5m])) < 10)"},
    {"sum(rate({app=\"foo\"}[5m])) <= 10", "(sum(rate({app=\"foo\"}[5m])) <= 10)"},
    {"sum(rate({app=\"foo\"}[5m])) == 10", "(sum(rate({app=\"foo\"}[5m])) == 10)"},
    {"sum(rate({app=\"foo\"}[5m])) != 10", "(sum(rate({app=\"foo\"}[5m])) != 10)"},
    {"sum(rate({app=\"foo\"}[5m])) > bool 10", "(sum(rate({app=\"foo\"}[5m])) > bool 10)"},
    {"rate({app=\"foo\"}[5m]) and rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) and rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) or rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) or rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) unless rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) unless rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) / on (pod) rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) / on (pod)  rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) / ignoring (pod) rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) / ignoring (pod)  rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) / on () rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) / on ()  rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) / ignoring () rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) / rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) * on (pod) group_left rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) * on (pod) group_left rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) * on (pod) group_right (node) rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) * on (pod) group_right (node) rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) * ignoring (pod) group_left () rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) * ignoring (pod) group_left rate({app=\"bar\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) > bool on (pod) rate({app=\"bar\"}[5m])",
     "(rate({app=\"foo\"}[5m]) > bool on (pod)  rate({app=\"bar\"}[5m]))"},
    {"1 + 2 * 3", "7"},
    {"2 ^ 3 ^ 2", "512"},
    {"(1 + 2) * 3", "9"},
    {"10 % 3", "1"},
    {"1 / 0", "NaN"},
    {"-1", NULL},
    {"+5", "5"},
    {"0.5", NULL},
    {"1e6", "1e+06"},
    {"1e-7", "1e-07"},
    {"123456789", "1.23456789e+08"},
    {"1 == bool 1", "1"},
    {"rate({app=\"foo\"}[5m]) + 1 * 2", "(rate({app=\"foo\"}[5m]) + 2)"},
    {"rate({app=\"foo\"}[5m]) * 2 + 1", "((rate({app=\"foo\"}[5m]) * 2) + 1)"},
    {"rate({app=\"foo\"}[5m]) - rate({app=\"bar\"}[5m]) - rate({app=\"baz\"}[5m])",
     "((rate({app=\"foo\"}[5m]) - rate({app=\"bar\"}[5m])) - rate({app=\"baz\"}[5m]))"},
    {"rate({app=\"foo\"}[5m]) ^ 2 ^ 3", "(rate({app=\"foo\"}[5m]) ^ 8)"},
    {"vector(0)", "vector(0.000000)"},
    {"vector(1.5)", "vector(1.500000)"},
    {"sum(rate({app=\"foo\"}[5m])) or vector(0)",
     "(sum(rate({app=\"foo\"}[5m])) or vector(0.000000))"},
    {"label_replace(rate({app=\"foo\"}[5m]), \"dst\", \"$1\", \"src\", \"(.*)\")",
     "label_replace(rate({app=\"foo\"}[5m]),\"dst\",\"$1\",\"src\",\"(.*)\")"},
    {"label_replace(sum by (a) (rate({app=\"foo\"}[5m])), \"x\", \"y-$1\", \"a\", \"(a+)b\")",
     "label_replace(sum by (a)(rate({app=\"foo\"}[5m])),\"x\",\"y-$1\",\"a\",\"(a+)b\")"},
    {"sum by (host) (rate({app=\"foo\"} | logfmt | level=\"error\" [1m])) / sum by (host) "
     "(rate({app=\"foo\"}[1m])) > 0.05",
     "((sum by (host)(rate({app=\"foo\"} | logfmt | level=\"error\"[1m])) / sum by "
     "(host)(rate({app=\"foo\"}[1m]))) > 0.05)"},
    {"SUM(rate({app=\"foo\"}[5m]))", "sum(rate({app=\"foo\"}[5m]))"},
    {"sum(RATE({app=\"foo\"}[5m]))", "sum(rate({app=\"foo\"}[5m]))"},
    {"sum by (a) (count_over_time({app=\"foo\"}[5m])) > bool 0",
     "(sum by (a)(count_over_time({app=\"foo\"}[5m])) > bool 0)"},
};

typedef struct {
    const char *in;
    const char *err;
} err_case_t;

static const err_case_t err_cases[] = {
    {"sum_over_time({a=\"b\"} | unwrap [1m])",
     "parse error at line 0, col 32: syntax error: unexpected RANGE, expecting IDENTIFIER or "
     "BYTES_CONV or DURATION_CONV or DURATION_SECONDS_CONV"},
    {"{a=\"b\"} | label_format x",
     "parse error at line 1, col 25: syntax error: unexpected $end, expecting ="},
    {"{a=\"b\"} | line_format 5",
     "parse error at line 1, col 23: syntax error: unexpected NUMBER, expecting STRING"},
    {"sum by (a", "parse error at line 1, col 10: syntax error: unexpected $end, expecting , or )"},
    {"{app}",
     "parse error at line 1, col 5: syntax error: unexpected }, expecting = or =~ or !~ or !="},
    {"{app=x}",
     "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING"},
    {"{app=\"x\"} |= error",
     "parse error at line 1, col 14: syntax error: unexpected IDENTIFIER, expecting STRING or ip"},
    {"sum by (x) foo",
     "parse error at line 1, col 12: syntax error: unexpected IDENTIFIER, expecting ("},
    {"{app=\"x\"} | json | level == \"error\"",
     "parse error at line 1, col 29: syntax error: unexpected STRING"},
    {"{a=\"b\"} | json | x > 'ab'", "parse error at line 1, col 22: illegal char literal"},
    {"{a=\"b\"} |= \"x\" \xff", "parse error at line 1, col 16: invalid UTF-8 encoding"},
    {"unk({ foo = \"bar\" }[5m])",
     "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"},
    {"absent_over_time({ foo = \"bar\" }[5h]) by (foo)",
     "parse error : grouping not allowed for absent_over_time aggregation"},
    {"approx_topk(2, count_over_time({ foo = \"bar\" }[5h])) by (foo)",
     "parse error : grouping not allowed for approx_topk aggregation"},
    {"rate({ foo = \"bar\" }[5minutes])",
     "parse error at line 0, col 21: unknown unit \"minutes\" in duration \"5minutes\""},
    {"label_replace(rate({ foo = \"bar\" }[5m]),\"\")",
     "parse error at line 1, col 43: syntax error: unexpected ), expecting ,"},
    {"label_replace(rate({ foo = \"bar\" }[5m]),\"foo\",\"$1\",\"bar\",\"^^^^x43\\\\q\")",
     "parse error : invalid regex in label_replace: error parsing regexp: invalid escape sequence: "
     "`\\q`"},
    {"rate({ foo = \"bar\" }[5)", "parse error at line 0, col 21: missing closing ']' in duration"},
    {"min({ foo = \"bar\" }[5m])", "parse error at line 0, col 20: syntax error: unexpected RANGE"},
    {"{ foo = \"bar\" }|logfmt|addr>=ip(\"1.2.3.4\")",
     "parse error at line 1, col 30: syntax error: unexpected ip"},
    {"{ foo = \"bar\" }|logfmt|addr>ip(\"1.2.3.4\")",
     "parse error at line 1, col 29: syntax error: unexpected ip"},
    {"sum(3 ,count_over_time({ foo = \"bar\" }[5h]))",
     "parse error : unsupported parameter for operation sum(3,"},
    {"topk(count_over_time({ foo = \"bar\" }[5h]))",
     "parse error : parameter required for operation topk"},
    {"bottomk(he,count_over_time({ foo = \"bar\" }[5h]))",
     "parse error at line 1, col 9: syntax error: unexpected IDENTIFIER"},
    {"bottomk(1.2,count_over_time({ foo = \"bar\" }[5h]))",
     "parse error : invalid parameter bottomk(1.2,"},
    {"stddev({ foo = \"bar\" })", "parse error at line 1, col 23: syntax error: unexpected )"},
    {"{foo=\"bar}", "parse error at line 1, col 6: literal not terminated"},
    {"{foo=\"bar\"",
     "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,"},
    {"{foo=\"bar\"} |~",
     "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING or ip"},
    {"{foo=\"bar\"} \"foo\"", "parse error at line 1, col 13: syntax error: unexpected STRING"},
    {"{foo=\"bar\"} foo", "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER"},
    {"{app=\"foo\"} | logfmt | status_code > 0x10",
     "parse error : unable to parse literal as a float: strconv.ParseFloat: parsing \"0x10\": "
     "invalid syntax"},
    {"bool 1 > 1 > bool 1", "parse error at line 1, col 1: syntax error: unexpected bool"},
    {"quantile_over_time(foo,{namespace=\"tns\"} |= \"level=error\" | json |foo>=5,bar<25ms| "
     "unwrap latency [5m])",
     "parse error at line 1, col 20: syntax error: unexpected IDENTIFIER, expecting NUMBER or { or "
     "("},
    {"vector(abc)",
     "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting NUMBER"},
    {"#{app=\"foo\"} | json", "parse error at line 1, col 20: syntax error: unexpected $end"},
    {"count_over_time({foo!=\"bar\"}[5m])",
     "parse error : queries require at least one regexp or equality matcher that does not have an "
     "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
     "app=~\".+\" will"},
    {"count_over_time({app=~\".*\"}[5m])",
     "parse error : queries require at least one regexp or equality matcher that does not have an "
     "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
     "app=~\".+\" will"},
    {"1 + count_over_time({app=~\".+\"}[5m]) + count_over_time({app=~\".*\"}[5m])",
     "parse error : queries require at least one regexp or equality matcher that does not have an "
     "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
     "app=~\".+\" will"},
    {"count without (rate({namespace=\"apps\"}[15s]))",
     "parse error at line 1, col 16: syntax error: unexpected RATE, expecting IDENTIFIER or )"},
    {"sum_over_time({a=\"b\"}[5m])",
     "parse error : invalid aggregation sum_over_time without unwrap"},
    {"count_over_time({a=\"b\"} | unwrap x [5m])",
     "parse error : invalid aggregation count_over_time with unwrap"},
    {"sum_over_time({a=\"b\"} | unwrap x [5m]) by (a)",
     "parse error : grouping not allowed for sum_over_time aggregation"},
    {"quantile_over_time({a=\"b\"} | unwrap x [5m])",
     "parse error : parameter required for operation quantile_over_time"},
    {"rate(50, {a=\"b\"}[5m])", "parse error : parameter 50 not supported for operation rate"},
    {"{a=\"b\"} + 1",
     "parse error : unexpected type for left leg of binary operation (+): *syntax.MatchersExpr"},
    {"1 + {a=\"b\"} |= \"x\"",
     "parse error : unexpected type for right leg of binary operation (+): *syntax.PipelineExpr"},
    {"1 or count_over_time({a=\"b\"}[1m])", "parse error : unexpected literal for left leg of "
                                            "logical/set binary operation (or): 1.000000"},
    {"count_over_time({a=\"b\"}[1m]) unless 1", "parse error : unexpected literal for right leg of "
                                                "logical/set binary operation (unless): 1.000000"},
    {"sort by (a) (count_over_time({a=\"b\"}[1m]))",
     "parse error : sort and sort_desc doesn't allow grouping by "},
    {"{}", "parse error : queries require at least one regexp or equality matcher that does not "
           "have an empty-compatible value. For instance, app=~\".*\" does not meet this "
           "requirement, but app=~\".+\" will"},
    {"{a=\"\"}", "parse error : queries require at least one regexp or equality matcher that does "
                 "not have an empty-compatible value. For instance, app=~\".*\" does not meet this "
                 "requirement, but app=~\".+\" will"},
    {"{a=\"b\"} | unwrap x", "parse error at line 1, col 11: syntax error: unexpected unwrap"},
    {"{a=\"b\"} | regexp \"(?P<a>x\"",
     "parse error : invalid regexp parser: error parsing regexp: missing closing ): `(?P<a>x`"},
    {"{a=\"b\"} | regexp \"nonamed\"",
     "parse error : invalid regexp parser: at least one named capture must be supplied"},
    {"{a=\"b\"} | pattern \"nocapture\"",
     "parse error : invalid pattern parser: at least one capture is required"},
    {"{a=\"b\"} | pattern \"<a><b>\"", "parse error : invalid pattern parser: found consecutive "
                                       "capture '<a><b>': invalid expression"},
    {"{a=\"b\"} |~ \"(unclosed\"",
     "parse error : error parsing regexp: missing closing ): `(unclosed`"},
    {"{a=~\"(unclosed\"}", "parse error : error parsing regexp: missing closing ): `(unclosed`"},
    {"{a=\"b\"} | label_format a=\"x\",a=\"y\"",
     "parse error : multiple label name 'a' not allowed in a single format operation"},
    {"{a=\"b\"} |= ip(\"notanip\")", "parse error : ip: invalid pattern: \"notanip\""},
    {"topk(0, count_over_time({a=\"b\"}[1m]))",
     "parse error : invalid parameter (must be greater than 0) topk(0"},
    {"{\"utf8.name\"=\"x\"}",
     "parse error at line 1, col 2: syntax error: unexpected STRING, expecting IDENTIFIER or }"},
    {"count_over_time({app=\"foo\"} | logfmt | unwrap v | __error__=\"\" [5m])",
     "parse error : invalid aggregation count_over_time with unwrap"},
};

static size_t count_leaves(const char *pq)
{
    size_t n = 0;
    for (const char *p = pq; (p = strstr(p, "__logql_leaf_")) != NULL; p++) {
        n++;
    }
    return n;
}

/* Checks one valid query; returns a description of the first mismatch, or NULL. */
static const char *check_valid(arena_t *a, const fmt_case_t *c, char *why, size_t n)
{
    err_t err = {0};
    logql_expr_t *e = logql_parse(a, c->in, &err);
    if (e == NULL) {
        snprintf(why, n, "parse failed: %s", err.msg);
        return why;
    }
    const char *want = c->out != NULL ? c->out : c->in;
    const char *got = logql_format(a, e);
    if (strcmp(got, want) != 0) {
        snprintf(why, n, "format: got `%s` want `%s`", got, want);
        return why;
    }
    /* Loki prints a folded 1/0 as NaN, which no parser reads back: skip the reprint. */
    logql_expr_t *again = strstr(got, "NaN") != NULL ? e : logql_parse(a, got, &err);
    if (again == NULL || strcmp(logql_format(a, again), got) != 0) {
        snprintf(why, n, "reprint of `%s` differs (%s)", got, err.msg);
        return why;
    }
    if (!logql_is_metric(e)) {
        logql_selector_t sel;
        return logql_log_selector(e, &sel) == 0 && sel.pipeline != NULL ? NULL : "no selector";
    }
    const logql_leaf_t *leaves = NULL;
    size_t n_leaves = 0;
    const char *pq = NULL;
    if (logql_metric_plan(a, e, &leaves, &n_leaves, &pq, &err) != 0) {
        snprintf(why, n, "plan failed: %s", err.msg);
        return why;
    }
    if (promql_parse(a, pq, &err) == NULL || count_leaves(pq) != n_leaves) {
        snprintf(why, n, "plan `%s` (%zu leaves) rejected: %s", pq, n_leaves, err.msg);
        return why;
    }
    return NULL;
}

TEST(logql_format_matches_loki)
{
    char why[1024];
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
        arena_t *a = arena_new(0, NULL);
        if (check_valid(a, &fmt_cases[i], why, sizeof(why)) != NULL) {
            fprintf(stderr, "  `%s`: %s\n", fmt_cases[i].in, why);
            failed++;
        }
        arena_free(a);
    }
    ASSERT_EQ(failed, 0);
    ASSERT_TRUE(sizeof(fmt_cases) / sizeof(fmt_cases[0]) >= 100);
}

TEST(logql_errors_match_loki)
{
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        arena_t *a = arena_new(0, NULL);
        err_t err = {0};
        logql_expr_t *e = logql_parse(a, err_cases[i].in, &err);
        if (e != NULL || strcmp(err.msg, err_cases[i].err) != 0 || err.code != ERR_BAD_DATA) {
            fprintf(stderr, "  `%s`: got `%s` want `%s`\n", err_cases[i].in,
                    e != NULL ? logql_format(a, e) : err.msg, err_cases[i].err);
            failed++;
        }
        arena_free(a);
    }
    ASSERT_EQ(failed, 0);
    ASSERT_TRUE(sizeof(err_cases) / sizeof(err_cases[0]) >= 50);
}

TEST(logql_rejects_oversized_input)
{
    static char big[131073];
    memset(big, ' ', sizeof(big) - 1);
    memcpy(big, "{a=\"b\"}", 7);
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    ASSERT_NULL(logql_parse(a, big, &err));
    ASSERT_STR_EQ(err.msg, "parse error : input size too long (131072 > 131072)");
    arena_free(a);
}

TEST(logql_plan_leaves_carry_range_offset_and_grouping)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    logql_expr_t *e =
        logql_parse(a,
                    "sum by (a) (rate({app=\"x\"} |= \"e\" [5m] offset 1h)) / "
                    "quantile_over_time(0.9, {app=\"y\"} | logfmt | unwrap v [1m]) without (pod)",
                    &err);
    ASSERT_NOT_NULL(e);
    const logql_leaf_t *l = NULL;
    size_t n = 0;
    const char *pq = NULL;
    ASSERT_EQ(logql_metric_plan(a, e, &l, &n, &pq, &err), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(pq, "(sum by (a)(__logql_leaf_0)) / (__logql_leaf_1)");
    ASSERT_EQ(l[0].op, LOGQL_RATE);
    ASSERT_EQ(l[0].range_ms, 300000);
    ASSERT_EQ(l[0].offset_ms, 3600000);
    ASSERT_EQ(l[0].sel.n_matchers, 1);
    ASSERT_FALSE(logql_pipeline_is_filter_only(l[1].sel.pipeline));
    ASSERT_TRUE(logql_pipeline_is_filter_only(l[0].sel.pipeline));
    ASSERT_EQ(l[1].op, LOGQL_QUANTILE_OVER_TIME);
    ASSERT_DBL_EQ(l[1].param, 0.9);
    ASSERT_TRUE(l[1].has_grouping);
    ASSERT_TRUE(l[1].without);
    ASSERT_EQ(l[1].n_grouping, 1);
    ASSERT_STR_EQ(l[1].grouping[0], "pod");
    arena_free(a);
}

TEST(logql_plan_without_leaves)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    logql_expr_t *e = logql_parse(a, "vector(1) + vector(2)", &err);
    ASSERT_NOT_NULL(e);
    const logql_leaf_t *l = NULL;
    size_t n = 9;
    const char *pq = NULL;
    ASSERT_EQ(logql_metric_plan(a, e, &l, &n, &pq, &err), 0);
    ASSERT_EQ(n, 0);
    ASSERT_STR_EQ(pq, "(vector(1)) + (vector(2))");
    logql_expr_t *log = logql_parse(a, "{a=\"b\"}", &err);
    ASSERT_EQ(logql_metric_plan(a, log, &l, &n, &pq, &err), -1);
    arena_free(a);
}

TEST(logql_set_matcher_replaces_or_appends_everywhere)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    logql_expr_t *e = logql_parse(
        a, "sum(rate({app=\"a\", env=\"dev\"}[1m])) / sum(rate({app=\"b\"} |= \"x\" [1m]))", &err);
    ASSERT_NOT_NULL(e);
    matcher_t *m = matcher_new_arena(a, MATCH_EQ, "env", "prod", &err);
    ASSERT_EQ(logql_set_matcher(a, e, m, &err), 0);
    const char *s = logql_format(a, e);
    ASSERT_STR_EQ(s, "(sum(rate({app=\"a\", env=\"prod\"}[1m])) / "
                     "sum(rate({app=\"b\", env=\"prod\"} |= \"x\"[1m])))");
    logql_expr_t *log = logql_parse(a, "{app=\"a\"} | json", &err);
    matcher_t *re = matcher_new_arena(a, MATCH_RE, "cluster", "eu-.*", &err);
    ASSERT_EQ(logql_set_matcher(a, log, re, &err), 0);
    ASSERT_STR_EQ(logql_format(a, log), "{app=\"a\", cluster=~\"eu-.*\"} | json");
    logql_selector_t sel;
    ASSERT_EQ(logql_log_selector(log, &sel), 0);
    ASSERT_EQ(sel.n_matchers, 2);
    ASSERT_EQ(logql_log_selector(e, &sel), -1);
    arena_free(a);
}

TEST(logql_is_metric_tells_log_from_metric)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    ASSERT_FALSE(logql_is_metric(logql_parse(a, "{a=\"b\"} |= \"x\"", &err)));
    ASSERT_TRUE(logql_is_metric(logql_parse(a, "count_over_time({a=\"b\"}[1m])", &err)));
    ASSERT_TRUE(logql_is_metric(logql_parse(a, "1 + 1", &err)));
    ASSERT_TRUE(logql_is_metric(logql_parse(a, "vector(3)", &err)));
    arena_free(a);
}

TEST(logql_parse_errors_are_bad_data_with_multiline_positions)
{
    arena_t *a = arena_new(0, NULL);
    err_t err = {0};
    ASSERT_NULL(logql_parse(a, "sum(\n  rate({a=\"b\"}[1m])\n) by (x) foo", &err));
    ASSERT_EQ(err.code, ERR_BAD_DATA);
    ASSERT_STR_EQ(err.msg, "parse error at line 3, col 10: syntax error: unexpected IDENTIFIER");
    arena_free(a);
}

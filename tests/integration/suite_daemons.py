#!/usr/bin/env python3
"""The four daemons' shared behaviour: start with no config, common routes, errors, tenancy,
signals, reload, and bad configs. Last line: "N passed, N failed"."""
import os
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Daemon, Runner, check, check_eq, check_in, run_program  # noqa: E402

PROGRAMS = ["herald-promd", "herald-logd", "herald-alertd", "herald-rulesync"]
# request-duration histogram of each program (Mimir: cortex_, Loki: loki_; Alloy: none)
REQUEST_METRIC = {"herald-promd": "cortex_request_duration_seconds",
                  "herald-logd": "loki_request_duration_seconds",
                  "herald-alertd": "cortex_request_duration_seconds"}
# a path under each program's authenticated API prefixes
AUTH_PATH = {"herald-promd": "/prometheus/api/v1/rules",
             "herald-logd": "/loki/api/v1/rules",
             "herald-alertd": "/alertmanager/api/v2/status"}
LOG_LEVEL_DEBUG = "server:\n  log_level: debug\n"

run = Runner()


@run.test
def all_start_without_config_and_answer_ready():
    for prog in PROGRAMS:
        d = Daemon(prog).start()
        r = d.get("/ready")
        check_eq((r.status, r.text), (200, "ready\n"), prog + " /ready")
        check(r.header("content-type", "").startswith("text/plain"), prog + " content type")
        m = d.wait_log(r'msg="server listening".*addr=127\.0\.0\.1:%d' % d.port)
        check(m is not None, prog + " listening line")
        d.cleanup()


@run.test
def metrics_in_text_format():
    for prog in PROGRAMS:
        d = Daemon(prog).start()
        d.get("/ready")
        r = d.get("/metrics")
        check_eq(r.status, 200, prog + " /metrics status")
        check_eq(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8",
                 prog + " /metrics content type")
        if prog in REQUEST_METRIC:
            name = REQUEST_METRIC[prog]
            check_in("# TYPE %s histogram" % name, r.text, prog)
            check_in('%s_count{method="GET",route="ready",status_code="200",ws="false"}' % name,
                     r.text, prog)
        gz = d.get("/metrics", headers={"Accept-Encoding": "gzip"})
        if gz.body:
            check_eq(gz.header("content-encoding"), "gzip", prog + " gzip")
        d.cleanup()


@run.test
def unknown_path_404_and_wrong_method_405_as_json():
    for prog in PROGRAMS:
        d = Daemon(prog).start()
        r = d.get("/no/such/path")
        check_eq(r.status, 404, prog + " 404")
        body = r.json()
        check_eq((body["status"], body["errorType"]), ("error", "not_found"), prog)
        check_eq(r.header("content-type"), "application/json", prog)
        r = d.post("/ready", "")
        check_eq(r.status, 405, prog + " 405")
        body = r.json()
        check_eq(body["status"], "error", prog)
        check_in("GET", r.header("allow", ""), prog + " Allow header")
        d.cleanup()


@run.test
def promd_tenant_header_rules():
    d = Daemon("herald-promd").start()
    r = d.get("/prometheus/api/v1/rules")
    check_eq((r.status, r.text), (401, "no org id\n"), "missing org id")
    check_eq(r.header("content-type"), "text/plain; charset=utf-8", "401 content type")
    r = d.get("/prometheus/api/v1/rules", headers={"X-Scope-OrgID": ""})
    check_eq(r.status, 401, "empty org id")
    r = d.get("/prometheus/api/v1/rules", headers={"X-Scope-OrgID": "../x"})
    check_eq((r.status, r.text),
             (400, "tenant ID '../x' contains unsupported character '/'\n"), "bad org id")
    r = d.get("/prometheus/api/v1/rules", headers={"X-Scope-OrgID": "a|b"})
    check_eq((r.status, r.text), (422, "too many tenant IDs present. max: 1 actual: 2\n"), "a|b")
    r = d.get("/prometheus/api/v1/rules", headers={"X-Scope-OrgID": "stage"})
    check(r.status not in (400, 401, 422), "valid tenant passes the middleware: %r" % r)
    # not-authenticated routes stay open
    check_eq(d.get("/ready").status, 200, "/ready without tenant")


@run.test
def auth_prefixes_of_each_program():
    for prog, path in AUTH_PATH.items():
        d = Daemon(prog).start()
        check_eq(d.get(path).status, 401, prog + " " + path)
        d.cleanup()
    # multitenancy off: no header needed; the flag names differ between Mimir and Loki
    for prog, flag in (("herald-promd", "-auth.multitenancy-enabled=false"),
                       ("herald-logd", "-auth.enabled=false")):
        d = Daemon(prog, args=[flag]).start()
        r = d.get(AUTH_PATH[prog])
        check(r.status != 401, "%s with %s: %r" % (prog, flag, r))
        d.cleanup()


@run.test
def sigterm_exits_zero():
    for prog in PROGRAMS:
        d = Daemon(prog).start()
        check_eq(d.stop(), 0, prog + " exit code after SIGTERM")
        check_in('msg=stopping', d.log(), prog)


@run.test
def sigint_exits_zero():
    d = Daemon("herald-logd").start()
    d.signal(signal.SIGINT)
    check_eq(d.wait_exit(), 0, "exit code after SIGINT")


@run.test
def sighup_reloads_and_logs():
    for prog in PROGRAMS:
        d = Daemon(prog).start()
        d.signal(signal.SIGHUP)
        d.wait_log(r'msg="config reloaded"')
        check_eq(d.get("/ready").status, 200, prog + " still serving")
        d.cleanup()


@run.test
def reload_keeps_old_config_on_error():
    d = Daemon("herald-promd", config="server:\n  log_level: info\n").start()
    check_in("log_level: info", d.get("/config").text, "initial /config")
    d.write_config(LOG_LEVEL_DEBUG)
    r = d.post("/-/reload")
    check_eq(r.status, 200, "reload: %r" % r)
    check_in("log_level: debug", d.get("/config").text, "/config after reload")
    d.write_config("server:\n  no_such_key: 1\n")
    r = d.post("/-/reload")
    check_eq(r.status, 500, "bad reload")
    check_in("no_such_key", r.text, "bad reload message")
    d.wait_log(r'msg="config reload failed')
    check_in("log_level: debug", d.get("/config").text, "old config kept")
    d.signal(signal.SIGHUP)
    check_eq(d.get("/ready").status, 200, "alive after a failed SIGHUP reload")


@run.test
def config_endpoint_shows_effective_config():
    d = Daemon("herald-logd").start()
    r = d.get("/config")
    check_eq(r.status, 200, "/config")
    check_in("http_listen_port: %d" % d.port, r.text, "flag value in /config")
    check_in("auth_enabled: true", r.text, "Loki key in /config")


def bad_config(prog, yaml_text, key, line):
    d = Daemon(prog, config=yaml_text)
    d.spawn()
    code = d.wait_exit()
    out = d.log().strip().splitlines()
    check_eq(code, 1, "%s exit code" % prog)
    check_eq(len(out), 1, "%s: one line, got %r" % (prog, out))
    check_in("config.yaml:%d" % line, out[0], prog)
    check_in(key, out[0], prog)
    d.cleanup()


@run.test
def bad_config_unknown_key_exits_1():
    bad_config("herald-promd", "server:\n  http_listen_port: 1\nruler:\n  bogus_key: 3\n",
               "bogus_key", 4)
    bad_config("herald-logd", "auth_enabled: false\nnot_a_loki_key: 1\n", "not_a_loki_key", 2)


@run.test
def bad_config_wrong_type_exits_1():
    bad_config("herald-alertd", "server:\n  http_listen_port: abc\n", "http_listen_port", 2)
    bad_config("herald-rulesync", "server:\n\n  log_level: info\n  http_listen_port: [1]\n",
               "http_listen_port", 4)


@run.test
def bad_flag_exits_1():
    code, out, err = run_program("herald-promd", ["-no.such-flag=1"])
    check_eq(code, 1, "exit code")
    check_in("no.such-flag", err, "message names the flag")


@run.test
def help_and_version_exit_0():
    for prog in PROGRAMS:
        code, out, _ = run_program(prog, ["-version"])
        check_eq(code, 0, prog + " -version")
        check_in(prog, out, prog + " -version output")
        code, out, _ = run_program(prog, ["-help"])
        check_eq(code, 0, prog + " -help")
        check_in("-server.http-listen-port", out, prog + " -help output")


@run.test
def port_in_use_exits_1():
    a = Daemon("herald-alertd").start()
    b = Daemon("herald-alertd", port=a.port)
    b.spawn()
    check_eq(b.wait_exit(), 1, "second daemon on the same port")
    check_in("address already in use", b.log().lower(), "bind error logged")


@run.test
def keeps_serving_under_parallel_clients():
    import threading
    d = Daemon("herald-promd").start()
    errors = []

    def client():
        for _ in range(50):
            try:
                if d.get("/ready").status != 200:
                    errors.append("status")
            except OSError as e:
                errors.append(str(e))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check_eq(errors, [], "errors under load")


def example_daemon(prog):
    """A daemon on the `make run` config, its relative paths resolved in its temp dir."""
    examples = os.path.join(ROOT, "config", "examples")
    with open(os.path.join(examples, prog + ".yaml")) as f:
        d = Daemon(prog, config=f.read())
    os.makedirs(os.path.join(d.tmp, "config", "examples"))
    shutil.copy(os.path.join(examples, "alertmanager-fallback.yaml"),
                os.path.join(d.tmp, "config", "examples"))
    return d.start()


@run.test
def make_run_configs_load():
    for prog in ("herald-promd", "herald-logd"):
        d = example_daemon(prog)
        cfg = d.get("/config").text
        check_in("tenant_label_name: tenant", cfg, prog)
        check_in("ruler_evaluation_delay_duration: 0s", cfg, prog)
        check_in("alertmanager_url: http://localhost:9009/alertmanager", cfg, prog)
        d.cleanup()


@run.test
def make_run_fallback_routes_tenants():
    d = example_daemon("herald-promd")
    r = d.get("/alertmanager/api/v2/status", headers={"X-Scope-OrgID": "stage"})
    check_eq(r.status, 200, "fallback Alertmanager for a tenant without config: %r" % r)
    check_in('tenant=\\"stage\\"', r.text, "fallback routing in the status")
    check_in("prod-receiver", r.text, "fallback receivers")


@run.test
def make_run_rulesync_config_loads():
    d = example_daemon("herald-rulesync")
    cfg = d.get("/config").text
    check_in("manifest_dir: ./data/manifests", cfg, "manifest dir")
    check_in("http://localhost:3100", cfg, "loki ruler address")
    check_eq(d.get("/ready").status, 200, "ready")
    d.cleanup()


run.main()

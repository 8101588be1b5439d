#!/usr/bin/env python3
"""Notification bodies against Alertmanager 0.25: the same group sent by herald-alertd and
by Debian's prometheus-alertmanager to Slack and PagerDuty receivers on a local HTTP sink
(bodies compared byte for byte) and to an email receiver on a local SMTP server (subject, text
body and an HTML body from the same user template compared: both escape values the way Go's
html/template does). herald's own default HTML e-mail body, which deliberately differs from
upstream's, is checked on its own. Last line: "N passed, N failed"."""
import email
import email.policy
import socketserver
import sys
import threading
import time

from amlib import UPSTREAM_AM, Sink, Upstream, alertd, rfc3339
from harness import Runner, check, check_eq

run = Runner()
EXTERNAL = "http://am.example:9093/alertmanager"


class Smtp:
    """A tiny SMTP server (no TLS, no auth) that keeps each message's raw bytes."""

    def __init__(self):
        self.messages = []
        outer = self

        class H(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink ESMTP\r\n")
                data, in_data = [], False
                for line in self.rfile:
                    if in_data:
                        if line in (b".\r\n", b".\n"):
                            outer.messages.append(b"".join(data))
                            data, in_data = [], False
                            self.wfile.write(b"250 ok\r\n")
                        else:
                            data.append(line[1:] if line.startswith(b"..") else line)
                        continue
                    cmd = line[:4].upper()
                    if cmd == b"EHLO":
                        self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
                    elif cmd == b"DATA":
                        in_data = True
                        self.wfile.write(b"354 go\r\n")
                    elif cmd == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


CONFIG = """route:
  receiver: all
  group_by: [alertname]
  group_wait: 500ms
  group_interval: 1s
receivers:
  - name: all
    slack_configs:
      - api_url: '{URL}/slack'
        channel: '#ops'
        send_resolved: true
        fields:
          - title: Tenant
            value: '{{{{ .CommonLabels.tenant }}}}'
        actions:
          - type: button
            text: Runbook
            url: 'http://runbook/{{{{ .GroupLabels.alertname }}}}'
    pagerduty_configs:
      - url: '{URL}/pd'
        routing_key: key-123
        severity: critical
        details:
          team: db
        links:
          - href: 'http://dash/{{{{ .Status }}}}'
            text: Dashboard
    email_configs:
      - to: 'ops@example.org'
        from: 'am@example.org'
        smarthost: '127.0.0.1:{SMTP}'
        require_tls: false
        send_resolved: true
        html: '<p title="{{{{ .CommonLabels.alertname }}}}">{{{{ range .Alerts }}}}<a
          href="{{{{ .GeneratorURL }}}}">{{{{ .Labels.instance }}}}</a> {{{{ .Annotations.summary }}}}<br>
          {{{{ end }}}}<a href="{{{{ .ExternalURL }}}}/#/alerts?receiver={{{{ .Receiver }}}}">all</a></p>'
        text: '{{{{ range .Alerts }}}}{{{{ .Labels.instance }}}}: {{{{ .Annotations.summary }}}}
          {{{{ end }}}}'
"""

# herald only: an email receiver left with the default html (herald's own design).
DEFAULT_HTML_CONFIG = """route:
  receiver: mail
  group_wait: 200ms
receivers:
  - name: mail
    email_configs:
      - to: 'ops@example.org'
        from: 'am@example.org'
        smarthost: '127.0.0.1:{SMTP}'
        require_tls: false
"""


def post_both(d, up, alerts):
    r1 = d.post("/alertmanager/api/v2/alerts", alerts, {"X-Scope-OrgID": "p"})
    r2 = up.post("/api/v2/alerts", alerts)
    check_eq((r1.status, r2.status), (200, 200), "posted")


def bodies(msg, ctype):
    return [p.get_content() for p in msg.walk() if p.get_content_type() == ctype]


def mail_parts(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return (str(msg["Subject"]), str(msg["To"]), str(msg["From"]), bodies(msg, "text/plain"),
            bodies(msg, "text/html"))


@run.test
def slack_pagerduty_email_equal_upstream():
    sink, smtp_h, smtp_u = Sink(), Smtp(), Smtp()
    d = alertd(args=["-alertmanager.web.external-url=" + EXTERNAL]).start()
    mine = CONFIG.format(URL=sink.url("/h"), SMTP=smtp_h.port)
    body = "alertmanager_config: |\n" + "".join("  " + l + "\n" for l in mine.splitlines())
    check_eq(d.post("/api/v1/alerts", body, {"X-Scope-OrgID": "p"}).status, 201, "config")
    up = Upstream(CONFIG.format(URL=sink.url("/u"), SMTP=smtp_u.port), EXTERNAL)
    try:
        start = rfc3339(time.time() - 120)
        alerts = [{"labels": {"alertname": "DiskFull", "instance": "db-%d" % i, "tenant": "prod"},
                   "annotations": {"summary": "disk <90%% & rising> on db-%d" % i},
                   "startsAt": start, "generatorURL": "http://prom/graph?g0.expr=x"}
                  for i in (1, 2)]
        post_both(d, up, alerts)
        for kind in ("slack", "pd"):
            sink.wait("/h/" + kind, 1, 5)
            sink.wait("/u/" + kind, 1, 5)
        time.sleep(0.3)
        for kind in ("slack", "pd"):
            h, u = sink.get("/h/" + kind), sink.get("/u/" + kind)
            check_eq((len(h), len(u)), (1, 1), kind + " count")
            check_eq(h[0][2].decode(), u[0][2].decode(), kind + " firing body")
        deadline = time.time() + 5
        while time.time() < deadline and (not smtp_h.messages or not smtp_u.messages):
            time.sleep(0.1)
        check_eq(mail_parts(smtp_h.messages[0]), mail_parts(smtp_u.messages[0]), "email")
        check("&lt;90% &amp; rising&gt;" in mail_parts(smtp_h.messages[0])[4][0], "html escaped")
        resolved = [dict(a, endsAt=rfc3339(time.time() - 1)) for a in alerts]
        post_both(d, up, resolved)
        for kind in ("slack", "pd"):
            sink.wait("/h/" + kind, 2, 5)
            sink.wait("/u/" + kind, 2, 5)
        time.sleep(0.3)
        for kind in ("slack", "pd"):
            h, u = sink.get("/h/" + kind), sink.get("/u/" + kind)
            check_eq((len(h), len(u)), (2, 2), kind + " count after resolve")
            check_eq(h[1][2].decode(), u[1][2].decode(), kind + " resolved body")
        deadline = time.time() + 5
        while time.time() < deadline and (len(smtp_h.messages) < 2 or len(smtp_u.messages) < 2):
            time.sleep(0.1)
        check_eq(mail_parts(smtp_h.messages[1]), mail_parts(smtp_u.messages[1]), "resolved email")
        check(mail_parts(smtp_h.messages[1])[0].startswith("[RESOLVED]"), "resolved subject")
    finally:
        up.stop()
        sink.close()
        smtp_h.close()
        smtp_u.close()


@run.test
def default_email_html_renders():
    smtp = Smtp()
    d = alertd(args=["-alertmanager.web.external-url=" + EXTERNAL]).start()
    conf = DEFAULT_HTML_CONFIG.format(SMTP=smtp.port)
    body = "alertmanager_config: |\n" + "".join("  " + l + "\n" for l in conf.splitlines())
    try:
        check_eq(d.post("/api/v1/alerts", body, {"X-Scope-OrgID": "m"}).status, 201, "config")
        alert = [{"labels": {"alertname": "Hot", "zone": "<b>&\"x\""},
                  "annotations": {"summary": "temp > 90"}, "startsAt": rfc3339(time.time() - 60),
                  "generatorURL": "http://prom/graph?g0.expr=temp"}]
        r = d.post("/alertmanager/api/v2/alerts", alert, {"X-Scope-OrgID": "m"})
        check_eq(r.status, 200, "posted")
        deadline = time.time() + 5
        while time.time() < deadline and not smtp.messages:
            time.sleep(0.1)
        check(smtp.messages, "no email sent")
        msg = email.message_from_bytes(smtp.messages[0], policy=email.policy.default)
        check_eq(bodies(msg, "text/plain"), [], "no text part by default")
        html = bodies(msg, "text/html")
        check_eq(len(html), 1, "one html part")
        check(html[0].startswith("<!DOCTYPE html>\r\n"), "html document")
        for want in (">1 firing, 0 resolved</h1>", ">Firing (1)</h2>",
                     ">&lt;b&gt;&amp;&#34;x&#34;</td>", ">temp &gt; 90</td>",
                     '<a href="http://prom/graph?g0.expr=temp"',
                     '<a href="%s/#/alerts?receiver=mail"' % EXTERNAL):
            check(want in html[0], "html lacks " + want)
        check("<b>" not in html[0], "unescaped label value")
    finally:
        d.stop()
        smtp.close()


if __name__ == "__main__":
    if UPSTREAM_AM is None:
        print("SKIP prometheus-alertmanager not installed")
        print("0 passed, 0 failed")
        sys.exit(0)
    run.main()

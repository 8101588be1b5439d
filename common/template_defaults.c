/* common/template_defaults.c - herald's own default notification templates, under the names
 * Alertmanager 0.25 defines in its default.tmpl, written to give byte-identical text for the
 * same data (checked against the real Alertmanager in tests/template/). The repeated
 * "Alerts Firing / Alerts Resolved" sections are factored into two herald helpers: the
 * "tight" form (opsgenie, wechat, victorops: no blank lines around sections) and the "loose"
 * form (pushover, sns, telegram, discord, webex).
 * email.default.html is the exception: herald's own HTML e-mail design (Alertmanager's is a
 * third-party email layout we do not copy). It shows the same facts: firing/resolved counts,
 * group labels, a link to Alertmanager, then each alert's labels, annotations and source.
 * It is meant for tmpl_am_expand_html, which escapes every printed value for its context. */
#include "common/template_int.h"

static const char am_defaults[] =
    /* names and links */
    "{{define \"__alertmanager\"}}Alertmanager{{end}}"
    "{{define \"__alertmanagerURL\"}}{{.ExternalURL}}/#/alerts?receiver="
    "{{urlquery .Receiver}}{{end}}"
    /* "[FIRING:2] group values (other common label values)" */
    "{{define \"__subject\"}}[{{toUpper .Status}}"
    "{{if eq .Status \"firing\"}}:{{len .Alerts.Firing}}{{end}}] "
    "{{join \" \" .GroupLabels.SortedPairs.Values}} "
    "{{if gt (len .CommonLabels) (len .GroupLabels)}}("
    "{{with .CommonLabels.Remove .GroupLabels.Names}}{{join \" \" .Values}}{{end}}){{end}}"
    "{{end}}"
    "{{define \"__description\"}}{{end}}"
    /* one block per alert: its labels, annotations and source */
    "{{define \"__text_alert_list\"}}{{range .}}Labels:\n"
    "{{range .Labels.SortedPairs}} - {{.Name}} = {{.Value}}\n{{end}}"
    "Annotations:\n"
    "{{range .Annotations.SortedPairs}} - {{.Name}} = {{.Value}}\n{{end}}"
    "Source: {{.GeneratorURL}}\n{{end}}{{end}}"
    "{{define \"__herald_alerts_tight\"}}"
    "{{if .Alerts.Firing}}Alerts Firing:\n"
    "{{template \"__text_alert_list\" .Alerts.Firing}}{{end}}\n"
    "{{if .Alerts.Resolved}}Alerts Resolved:\n"
    "{{template \"__text_alert_list\" .Alerts.Resolved}}{{end}}{{end}}"
    "{{define \"__herald_alerts_loose\"}}"
    "{{if .Alerts.Firing}}\nAlerts Firing:\n{{template \"__text_alert_list\" .Alerts.Firing}}\n"
    "{{end}}\n"
    "{{if .Alerts.Resolved}}\nAlerts Resolved:\n"
    "{{template \"__text_alert_list\" .Alerts.Resolved}}\n{{end}}\n{{end}}"
    "{{define \"__herald_annotation_values\"}}"
    "{{join \" \" .CommonAnnotations.SortedPairs.Values}}{{end}}"
    /* Slack */
    "{{define \"slack.default.title\"}}{{template \"__subject\" .}}{{end}}"
    "{{define \"slack.default.username\"}}{{template \"__alertmanager\" .}}{{end}}"
    "{{define \"slack.default.fallback\"}}{{template \"slack.default.title\" .}} | "
    "{{template \"slack.default.titlelink\" .}}{{end}}"
    "{{define \"slack.default.callbackid\"}}{{end}}"
    "{{define \"slack.default.pretext\"}}{{end}}"
    "{{define \"slack.default.titlelink\"}}{{template \"__alertmanagerURL\" .}}{{end}}"
    "{{define \"slack.default.iconemoji\"}}{{end}}"
    "{{define \"slack.default.iconurl\"}}{{end}}"
    "{{define \"slack.default.text\"}}{{end}}"
    "{{define \"slack.default.footer\"}}{{end}}"
    /* PagerDuty */
    "{{define \"pagerduty.default.description\"}}{{template \"__subject\" .}}{{end}}"
    "{{define \"pagerduty.default.client\"}}{{template \"__alertmanager\" .}}{{end}}"
    "{{define \"pagerduty.default.clientURL\"}}{{template \"__alertmanagerURL\" .}}{{end}}"
    "{{define \"pagerduty.default.instances\"}}{{template \"__text_alert_list\" .}}{{end}}"
    /* email */
    "{{define \"email.default.subject\"}}{{template \"__subject\" .}}{{end}}"
    /* OpsGenie */
    "{{define \"opsgenie.default.message\"}}{{template \"__subject\" .}}{{end}}"
    "{{define \"opsgenie.default.description\"}}{{template \"__herald_annotation_values\" .}}\n"
    "{{template \"__herald_alerts_tight\" .}}{{end}}"
    "{{define \"opsgenie.default.source\"}}{{template \"__alertmanagerURL\" .}}{{end}}"
    /* WeChat */
    "{{define \"wechat.default.message\"}}{{template \"__subject\" .}}\n"
    "{{template \"__herald_annotation_values\" .}}\n{{template \"__herald_alerts_tight\" .}}\n"
    "AlertmanagerUrl:\n{{template \"__alertmanagerURL\" .}}{{end}}"
    "{{define \"wechat.default.to_user\"}}{{end}}"
    "{{define \"wechat.default.to_party\"}}{{end}}"
    "{{define \"wechat.default.to_tag\"}}{{end}}"
    "{{define \"wechat.default.agent_id\"}}{{end}}"
    /* VictorOps */
    "{{define \"victorops.default.state_message\"}}{{template \"__herald_annotation_values\" .}}\n"
    "{{template \"__herald_alerts_tight\" .}}{{end}}"
    "{{define \"victorops.default.entity_display_name\"}}{{template \"__subject\" .}}{{end}}"
    "{{define \"victorops.default.monitoring_tool\"}}{{template \"__alertmanager\" .}}{{end}}"
    /* Pushover, SNS, Telegram, Discord, Webex */
    "{{define \"pushover.default.title\"}}{{template \"__subject\" .}}{{end}}"
    "{{define \"pushover.default.message\"}}{{template \"__herald_annotation_values\" .}}\n"
    "{{template \"__herald_alerts_loose\" .}}{{end}}"
    "{{define \"pushover.default.url\"}}{{template \"__alertmanagerURL\" .}}{{end}}"
    "{{define \"sns.default.subject\"}}{{template \"__subject\" .}}{{end}}"
    "{{define \"sns.default.message\"}}{{template \"__herald_annotation_values\" .}}\n"
    "{{template \"__herald_alerts_loose\" .}}{{end}}"
    "{{define \"telegram.default.message\"}}\n{{template \"__herald_alerts_loose\" .}}{{end}}"
    "{{define \"discord.default.title\"}}{{template \"__subject\" .}}{{end}}"
    "{{define \"discord.default.message\"}}\n{{template \"__herald_alerts_loose\" .}}{{end}}"
    "{{define \"webex.default.message\"}}{{template \"__herald_annotation_values\" .}}\n"
    "{{template \"__herald_alerts_loose\" .}}{{end}}";

/* Inline styles only (mail clients drop <style> blocks); no value is printed inside a style
 * attribute, so the only contexts are element text and the two href URLs. The Alertmanager
 * link spells out __alertmanagerURL's URL without its urlquery: in an href the HTML escaper
 * query-escapes the receiver itself, and urlquery's output would be escaped twice. */
static const char am_email_html[] =
    /* a two-column table of name/value pairs (dot: .Labels.SortedPairs or similar) */
    "{{define \"__herald_email_pairs\"}}"
    "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
    "style=\"margin:2px 0 8px;font-size:13px;\">\n"
    "{{range .}}<tr><td style=\"padding:1px 12px 1px 0;color:#6b7280;vertical-align:top;\">"
    "{{.Name}}</td><td style=\"padding:1px 0;word-break:break-word;\">{{.Value}}</td></tr>\n"
    "{{end}}</table>\n{{end}}"
    /* one card per alert, its left border coloured by status (dot: a list of alerts) */
    "{{define \"__herald_email_alerts\"}}{{range .}}"
    "<div style=\"margin:0 0 12px;padding:10px 12px;border:1px solid #d1d5db;"
    "border-left:4px solid {{if eq .Status \"firing\"}}#c62828{{else}}#2e7d32{{end}};\">\n"
    "<div style=\"font-weight:bold;\">Labels</div>\n"
    "{{template \"__herald_email_pairs\" .Labels.SortedPairs}}"
    "{{if .Annotations}}<div style=\"font-weight:bold;\">Annotations</div>\n"
    "{{template \"__herald_email_pairs\" .Annotations.SortedPairs}}{{end}}"
    "{{if .GeneratorURL}}<a href=\"{{.GeneratorURL}}\" style=\"color:#1f6feb;\">Source</a>\n"
    "{{end}}</div>\n{{end}}{{end}}"
    "{{define \"email.default.html\"}}<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
    "<meta charset=\"UTF-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>{{template \"__subject\" .}}</title>\n</head>\n"
    "<body style=\"margin:0;padding:24px 8px;background-color:#eceff3;color:#1f2328;"
    "font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.45;\">\n"
    "<div style=\"max-width:640px;margin:0 auto;background-color:#ffffff;"
    "border:1px solid #d1d5db;\">\n"
    /* header: counts and group labels on a red (anything firing) or green band */
    "<div style=\"padding:16px 20px;color:#ffffff;background-color:"
    "{{if .Alerts.Firing}}#c62828{{else}}#2e7d32{{end}};\">\n"
    "<h1 style=\"margin:0;font-size:20px;\">"
    "{{len .Alerts.Firing}} firing, {{len .Alerts.Resolved}} resolved</h1>\n"
    "{{with .GroupLabels.SortedPairs}}<p style=\"margin:6px 0 0;\">Group: "
    "{{range $i, $p := .}}{{if $i}}, {{end}}{{$p.Name}}={{$p.Value}}{{end}}</p>\n{{end}}"
    "</div>\n<div style=\"padding:16px 20px;\">\n"
    "<p style=\"margin:0 0 16px;\"><a href=\"{{.ExternalURL}}/#/alerts?receiver={{.Receiver}}\" "
    "style=\"display:inline-block;padding:8px 14px;background-color:#1f6feb;color:#ffffff;"
    "text-decoration:none;border-radius:4px;\">View in {{template \"__alertmanager\" .}}</a>"
    "</p>\n"
    "{{if .Alerts.Firing}}<h2 style=\"margin:0 0 8px;font-size:16px;color:#c62828;\">"
    "Firing ({{len .Alerts.Firing}})</h2>\n"
    "{{template \"__herald_email_alerts\" .Alerts.Firing}}{{end}}"
    "{{if .Alerts.Resolved}}<h2 style=\"margin:0 0 8px;font-size:16px;color:#2e7d32;\">"
    "Resolved ({{len .Alerts.Resolved}})</h2>\n"
    "{{template \"__herald_email_alerts\" .Alerts.Resolved}}{{end}}"
    "</div>\n"
    "<p style=\"margin:0;padding:12px 20px;border-top:1px solid #d1d5db;color:#6b7280;"
    "font-size:12px;\">Sent by {{template \"__alertmanager\" .}} to receiver "
    "{{.Receiver}}.</p>\n</div>\n</body>\n</html>\n{{end}}";

int tmpl_add_am_defaults(tmpl_t *t, err_t *err)
{
    /* Two sources, as Alertmanager ships default.tmpl and email.tmpl. */
    if (tmpl__parse(t, "default.tmpl", am_defaults, err) < 0) {
        return -1;
    }
    return tmpl__parse(t, "email.tmpl", am_email_html, err);
}

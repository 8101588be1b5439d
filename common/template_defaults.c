/* common/template_defaults.c - herald's own default notification templates, under the names
 * Alertmanager 0.25 defines in its default.tmpl, written to give byte-identical text for the
 * same data (checked against the real Alertmanager in tests/template/). The repeated
 * "Alerts Firing / Alerts Resolved" sections are factored into two herald helpers: the
 * "tight" form (opsgenie, wechat, victorops: no blank lines around sections) and the "loose"
 * form (pushover, sns, telegram, discord, webex). email.default.html is not provided. */
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
    "{{if .Alerts.Firing}}Alerts Firing:\n{{template \"__text_alert_list\" .Alerts.Firing}}{{end}}\n"
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

int tmpl_add_am_defaults(tmpl_t *t, err_t *err)
{
    return tmpl__parse(t, "default.tmpl", am_defaults, err);
}

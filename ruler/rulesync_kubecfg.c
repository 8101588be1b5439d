/* ruler/rulesync_kubecfg.c - where the Kubernetes API server is and how to authenticate to
 * it, as client-go's loading rules find it for herald-rulesync: a kubeconfig file (its
 * current context), explicit settings, or the in-cluster service account. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "ruler/rulesync_int.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

void rulesync__kubeconn_fini(rulesync_kubeconn_t *k)
{
    free(k->server);
    free(k->token);
    free(k->token_file);
    free(k->ca_file);
    free(k->cert_file);
    free(k->key_file);
    buf_fini(&k->ca_pem);
    buf_fini(&k->cert_pem);
    buf_fini(&k->key_pem);
    memset(k, 0, sizeof(*k));
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v != NULL ? v : "");
}

static void trim_slashes(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/') {
        s[--n] = '\0';
    }
}

/* ---- kubeconfig ----------------------------------------------------------------------------- */

static int b64_value(int c)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != 0 ? strchr(tab, c) : NULL;
    return p != NULL ? (int)(p - tab) : -1;
}

/* Standard base64 (padding and whitespace ignored) into out. -1 on a bad character. */
static int b64_decode(const char *s, buf_t *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (; *s != '\0'; s++) {
        if (*s == '=' || *s == '\n' || *s == '\r' || *s == ' ') {
            continue;
        }
        int v = b64_value((unsigned char)*s);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_putc(out, (char)((acc >> bits) & 0xff));
        }
    }
    return 0;
}

/* The entry of a named list (clusters, contexts, users) with that name: its `sub` map. */
static yaml_node_t *named(yaml_document_t *d, yaml_node_t *root, const char *list, const char *name,
                          const char *sub)
{
    yaml_node_t *seq = rulesync__yaml_get(d, root, list);
    if (seq == NULL || seq->type != YAML_SEQUENCE_NODE || name == NULL) {
        return NULL;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(d, *it);
        const char *n = rulesync__yaml_text(rulesync__yaml_get(d, e, "name"));
        if (n != NULL && strcmp(n, name) == 0) {
            return rulesync__yaml_get(d, e, sub);
        }
    }
    return NULL;
}

/* A file path of the kubeconfig, made absolute against the kubeconfig's directory. */
static char *kc_path(const char *kubeconfig, const char *p)
{
    if (p == NULL || p[0] == '\0') {
        return xstrdup("");
    }
    const char *slash = strrchr(kubeconfig, '/');
    if (p[0] == '/' || slash == NULL) {
        return xstrdup(p);
    }
    char *out = xmalloc((size_t)(slash - kubeconfig) + strlen(p) + 2);
    sprintf(out, "%.*s/%s", (int)(slash - kubeconfig), kubeconfig, p);
    return out;
}

/* `<key>-data` (base64 PEM) into pem, else `<key>` (a path) into *file. */
static int pem_or_file(yaml_document_t *d, yaml_node_t *m, const char *key, const char *kubeconfig,
                       buf_t *pem, char **file, err_t *err)
{
    char data_key[64];
    snprintf(data_key, sizeof(data_key), "%s-data", key);
    const char *data = rulesync__yaml_text(rulesync__yaml_get(d, m, data_key));
    if (data != NULL) {
        if (b64_decode(data, pem) < 0) {
            return err_set(err, ERR_BAD_DATA, "%s: %s is not base64", kubeconfig, data_key);
        }
        return 0;
    }
    free(*file);
    *file = kc_path(kubeconfig, rulesync__yaml_text(rulesync__yaml_get(d, m, key)));
    return 0;
}

static int from_context(yaml_document_t *d, const char *path, rulesync_kubeconn_t *k, err_t *err)
{
    yaml_node_t *root = yaml_document_get_root_node(d);
    const char *cur = rulesync__yaml_text(rulesync__yaml_get(d, root, "current-context"));
    yaml_node_t *ctx = named(d, root, "contexts", cur, "context");
    if (ctx == NULL) {
        return err_set(err, ERR_BAD_DATA, "%s: no current context", path);
    }
    const char *cl = rulesync__yaml_text(rulesync__yaml_get(d, ctx, "cluster"));
    const char *us = rulesync__yaml_text(rulesync__yaml_get(d, ctx, "user"));
    yaml_node_t *cluster = named(d, root, "clusters", cl, "cluster");
    yaml_node_t *user = named(d, root, "users", us, "user");
    const char *server = rulesync__yaml_text(rulesync__yaml_get(d, cluster, "server"));
    if (server == NULL) {
        return err_set(err, ERR_BAD_DATA, "%s: cluster %s has no server", path, cl ? cl : "");
    }
    set_str(&k->server, server);
    const char *insecure =
        rulesync__yaml_text(rulesync__yaml_get(d, cluster, "insecure-skip-tls-verify"));
    k->insecure = insecure != NULL && strcmp(insecure, "true") == 0;
    const char *token = rulesync__yaml_text(rulesync__yaml_get(d, user, "token"));
    k->token = token != NULL ? xstrdup(token) : NULL;
    free(k->token_file);
    k->token_file = kc_path(path, rulesync__yaml_text(rulesync__yaml_get(d, user, "tokenFile")));
    if (pem_or_file(d, cluster, "certificate-authority", path, &k->ca_pem, &k->ca_file, err) < 0 ||
        pem_or_file(d, user, "client-certificate", path, &k->cert_pem, &k->cert_file, err) < 0 ||
        pem_or_file(d, user, "client-key", path, &k->key_pem, &k->key_file, err) < 0) {
        return -1;
    }
    return 0;
}

static int load_kubeconfig(const char *path, rulesync_kubeconn_t *k, err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return err_set(err, ERR_BAD_DATA, "%s: cannot read the kubeconfig", path);
    }
    buf_t text;
    buf_init(&text);
    char chunk[8192];
    for (size_t n; (n = fread(chunk, 1, sizeof(chunk), f)) > 0;) {
        buf_append(&text, chunk, n);
    }
    fclose(f);
    yaml_parser_t p;
    yaml_document_t d;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)(text.data ? text.data : ""), text.len);
    int rc;
    if (!yaml_parser_load(&p, &d)) {
        rc = err_set(err, ERR_BAD_DATA, "%s: line %d: %s", path, (int)p.problem_mark.line + 1,
                     p.problem != NULL ? p.problem : "invalid YAML");
    } else {
        rc = rulesync__yaml_check(&d, 16u << 20, err);
        rc = rc == 0 ? from_context(&d, path, k, err) : rc;
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&p);
    buf_fini(&text);
    return rc;
}

/* ---- resolution -------------------------------------------------------------------------- */

static int in_cluster(rulesync_kubeconn_t *k, err_t *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host == NULL || host[0] == '\0') {
        return err_set(err, ERR_BAD_DATA,
                       "neither manifest_dir nor kubernetes.api_server is set, and "
                       "KUBERNETES_SERVICE_HOST is empty (not running in a cluster)");
    }
    int v6 = strchr(host, ':') != NULL;
    k->server = xmalloc(strlen(host) + 32);
    sprintf(k->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
            port != NULL && port[0] != '\0' ? port : "443");
    set_str(&k->token_file, SA_DIR "/token");
    set_str(&k->ca_file, SA_DIR "/ca.crt");
    return 0;
}

int rulesync__kubeconn_resolve(const cfg_rulesync_t *c, rulesync_kubeconn_t *out, err_t *err)
{
    rulesync_kubeconn_t k = {0};
    set_str(&k.token_file, "");
    set_str(&k.ca_file, "");
    set_str(&k.cert_file, "");
    set_str(&k.key_file, "");
    int rc = 0;
    if (c->kubernetes_kubeconfig_file[0] != '\0') {
        rc = load_kubeconfig(c->kubernetes_kubeconfig_file, &k, err);
    } else if (c->kubernetes_api_server[0] == '\0') {
        rc = in_cluster(&k, err);
    }
    if (rc < 0) {
        rulesync__kubeconn_fini(&k);
        return -1;
    }
    if (c->kubernetes_api_server[0] != '\0') {
        set_str(&k.server, c->kubernetes_api_server);
    }
    if (c->kubernetes_bearer_token_file[0] != '\0') {
        set_str(&k.token_file, c->kubernetes_bearer_token_file);
    }
    if (c->kubernetes_ca_file[0] != '\0') {
        set_str(&k.ca_file, c->kubernetes_ca_file);
        buf_reset(&k.ca_pem);
    }
    k.insecure = k.insecure || c->kubernetes_insecure_skip_verify;
    trim_slashes(k.server);
    *out = k;
    return 0;
}

/* alertmanager/am_http.c - outgoing HTTP POSTs for notifiers, through libcurl, with the
 * integration's http_config (basic auth, bearer token, TLS verification, proxy, redirects).
 * A fresh easy handle per request keeps threads independent; tell retryable failures
 * (network, 5xx, 429) from permanent ones (other 4xx) as Alertmanager's retrier does. */
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#include "alertmanager/am_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void am__curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    buf_t *b = arg;
    if (b->len < 4096) { /* keep the start of the answer for the error message */
        buf_append(b, p, size * n);
    }
    return size * n;
}

static void apply_http_cfg(CURL *c, const am_http_cfg_t *hc, struct curl_slist **hdrs,
                           buf_t *authz)
{
    if (hc->username != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, hc->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, hc->password != NULL ? hc->password : "");
    }
    if (hc->bearer_token != NULL) {
        buf_printf(authz, "Authorization: Bearer %s", hc->bearer_token);
        *hdrs = curl_slist_append(*hdrs, authz->data);
    }
    if (hc->insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(c, CURLOPT_PROXY, hc->proxy_url != NULL ? hc->proxy_url : "");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, hc->follow_redirects ? 1L : 0L);
}

static int check_status(long status, const buf_t *resp, const char *url, err_t *err)
{
    if (status / 100 == 2) {
        return 0;
    }
    /* 5xx and 429 may succeed later; other answers will not. */
    err_code_t code = status / 100 == 5 || status == 429 ? ERR_UNAVAILABLE : ERR_BAD_DATA;
    return err_set(err, code, "unexpected status code %ld: %s: %s", status, url,
                   resp->data != NULL ? resp->data : "");
}

int am__http_post(const am_http_cfg_t *hc, const char *url, const char *content_type,
                  const buf_t *body, int64_t timeout_ns, err_t *err)
{
    struct curl_slist *hdrs = NULL;
    buf_t resp, ct, authz;
    long status = 0;
    int rc = -1;
    am__curl_init();
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return err_set(err, ERR_UNAVAILABLE, "cannot create an HTTP client");
    }
    buf_init(&resp);
    buf_init(&ct);
    buf_init(&authz);
    buf_printf(&ct, "Content-Type: %s", content_type);
    hdrs = curl_slist_append(hdrs, ct.data);
    hdrs = curl_slist_append(hdrs, "User-Agent: Alertmanager/0.25.0");
    apply_http_cfg(c, hc, &hdrs, &authz);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data != NULL ? body->data : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ns > 0 ? (long)(timeout_ns / 1000000) : 30000L);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        err_set(err, ERR_UNAVAILABLE, "Post \"%s\": %s", url, curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    rc = check_status(status, &resp, url, err);
done:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    buf_fini(&resp);
    buf_fini(&ct);
    buf_fini(&authz);
    return rc;
}

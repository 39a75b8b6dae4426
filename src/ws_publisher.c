/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_publisher.c -- the websocket-publisher handler: POST/PUT publish
 * the request body to the location's channels, GET describes them,
 * DELETE closes their subscribers and drops their history; answers are
 * JSON.
 */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "ws_chan.h"
#include "ws_chanpost.h"
#include "ws_chansub.h"
#include "ws_config.h"
#include "ws_log.h"
#include "ws_publisher.h"
#include "ws_utf8.h"

APLOG_USE_MODULE(websocket);

static const char *json_str(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s), i, o = 0;
    char *b = apr_palloc(p, 6 * n + 3);

    b[o++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            b[o++] = '\\';
            b[o++] = (char)c;
        }
        else if (c < 0x20 || c == 0x7f) {
            o += apr_snprintf(b + o, 7, "\\u%04x", c);
        }
        else {
            b[o++] = (char)c;
        }
    }
    b[o++] = '"';
    b[o] = '\0';
    return b;
}

static int answer(request_rec *r, int status, apr_array_header_t *objs)
{
    int i;

    r->status = status;
    ap_set_content_type(r, "application/json");
    if (objs->nelts > 1) {
        ap_rputs("[", r);
    }
    for (i = 0; i < objs->nelts; i++) {
        ap_rvputs(r, i ? "," : "", APR_ARRAY_IDX(objs, i, const char *),
                  NULL);
    }
    ap_rputs(objs->nelts > 1 ? "]\n" : "\n", r);
    return OK;
}

/* An error answered in JSON: {"error":..., "status":N}. */
static int fail(request_rec *r, int status, const char *why)
{
    apr_array_header_t *objs = apr_array_make(r->pool, 1,
                                              sizeof(const char *));

    if (status == HTTP_METHOD_NOT_ALLOWED) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, POST, PUT, "
                       "DELETE");
    }
    if (status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        /* the rest of the body is not read, so the connection ends */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    APR_ARRAY_PUSH(objs, const char *) = apr_psprintf(
        r->pool, "{\"error\":%s,\"status\":%d}", json_str(r->pool, why),
        status);
    return answer(r, status, objs);
}

/* Reads the body, refusing more than @p max bytes (413) without reading
 * it whole. */
static int read_body(request_rec *r, apr_uint64_t max, char **out,
                     apr_size_t *outlen)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_int64_t declared = cl ? apr_atoi64(cl) : 0;
    apr_size_t len = 0, cap = 8192;
    char *buf;
    int rc;

    if (declared > 0 && (apr_uint64_t)declared > max) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (rc != OK) {
        return rc;
    }
    if (declared > 0) {
        cap = (apr_size_t)declared + 1; /* + 1: the end shows at once */
    }
    buf = malloc(cap);
    /* asked once: it says no as soon as something was read */
    while (buf != NULL && (len > 0 || ap_should_client_block(r))) {
        long n;

        if (len == cap) {
            /* never beyond max + 1: that byte is enough to refuse */
            apr_size_t ncap = cap * 2 > max + 1 ? (apr_size_t)max + 1
                                                 : cap * 2;
            char *nb = realloc(buf, ncap);

            if (nb == NULL) {
                break;
            }
            buf = nb;
            cap = ncap;
        }
        n = ap_get_client_block(r, buf + len, cap - len);
        if (n <= 0) {
            if (n < 0) {
                free(buf);
                return HTTP_BAD_REQUEST;
            }
            break;
        }
        len += (apr_size_t)n;
        if (len > max) {
            free(buf);
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }
    if (buf == NULL || len == cap) {
        free(buf);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    *out = buf;
    *outlen = len;
    return OK;
}

static int is_text(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");

    return ct != NULL && (!strncasecmp(ct, "text/", 5)
                          || !strncasecmp(ct, "application/json", 16));
}

static int refused_full(request_rec *r, const char *name)
{
    if (ws_chan_refusal_due()) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, WS_LOGNO(00714)
                      "channel %s: publish refused, channel memory full "
                      "(WebSocketChannelMemory); logged once a second at "
                      "most", name);
    }
    return fail(r, HTTP_INSUFFICIENT_STORAGE, "channel memory full");
}

static int publish(request_rec *r, const ws_settings_t *set,
                   apr_array_header_t *names)
{
    apr_array_header_t *objs = apr_array_make(r->pool, names->nelts,
                                              sizeof(const char *));
    ws_chan_posted_t *out = apr_pcalloc(r->pool, sizeof(*out) * names->nelts);
    ws_chan_limits_t lim = {set->chan_history, set->chan_history_secs};
    apr_uint32_t subscribers = 0;
    apr_status_t rv;
    char *body = NULL, id[WS_CHANSUB_ID_LEN];
    apr_size_t len = 0;
    int text = is_text(r), rc, i, done;

    rc = read_body(r, set->max_message, &body, &len);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return fail(r, rc, "message larger than WebSocketMaxMessageSize");
    }
    if (rc != OK) {
        return fail(r, rc, "cannot read the request body");
    }
    if (text && !ws_utf8_valid((const unsigned char *)body, len)) {
        free(body);
        return fail(r, HTTP_BAD_REQUEST, "text message is not valid UTF-8");
    }
    rv = ws_chan_post((const char *const *)names->elts, names->nelts,
                      text ? WS_CHAN_TEXT : WS_CHAN_BINARY, body, len, lim,
                      out, &done);
    free(body);
    if (rv == APR_ENOSPC) {
        return refused_full(r, APR_ARRAY_IDX(names, done, const char *));
    }
    if (rv != APR_SUCCESS) {
        return fail(r, HTTP_SERVICE_UNAVAILABLE, "channels unavailable");
    }
    for (i = 0; i < done; i++) {
        subscribers += out[i].subscribers;
        APR_ARRAY_PUSH(objs, const char *) = apr_psprintf(
            r->pool, "{\"channel\":%s,\"id\":\"%s\",\"subscribers\":%u}",
            json_str(r->pool, APR_ARRAY_IDX(names, i, const char *)),
            ws_chansub_id(id, out[i].id), out[i].subscribers);
    }
    return answer(r, subscribers > 0 ? HTTP_CREATED : HTTP_ACCEPTED, objs);
}

static int info(request_rec *r, apr_array_header_t *names)
{
    apr_array_header_t *objs = apr_array_make(r->pool, names->nelts,
                                              sizeof(const char *));
    char id[WS_CHANSUB_ID_LEN];
    int i;

    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        ws_chan_info_t in;

        if (ws_chan_describe(name, &in) != APR_SUCCESS) {
            return fail(r, HTTP_SERVICE_UNAVAILABLE, "channels unavailable");
        }
        APR_ARRAY_PUSH(objs, const char *) = apr_psprintf(
            r->pool, "{\"channel\":%s,\"subscribers\":%u,\"messages\":%u,"
            "\"last_id\":%s%s%s}", json_str(r->pool, name), in.subscribers,
            in.history, in.last.seq ? "\"" : "",
            in.last.seq ? ws_chansub_id(id, in.last) : "null",
            in.last.seq ? "\"" : "");
    }
    return answer(r, HTTP_OK, objs);
}

static int delete_channels(request_rec *r, apr_array_header_t *names)
{
    apr_array_header_t *objs = apr_array_make(r->pool, names->nelts,
                                              sizeof(const char *));
    apr_uint32_t *n = apr_pcalloc(r->pool, sizeof(*n) * names->nelts);
    int i, found;

    if (ws_chan_remove((const char *const *)names->elts, names->nelts, n,
                       &found) != APR_SUCCESS) {
        return fail(r, HTTP_SERVICE_UNAVAILABLE, "channels unavailable");
    }
    for (i = 0; i < names->nelts; i++) {
        APR_ARRAY_PUSH(objs, const char *) = apr_psprintf(
            r->pool, "{\"channel\":%s,\"subscribers\":%u}",
            json_str(r->pool, APR_ARRAY_IDX(names, i, const char *)), n[i]);
    }
    return answer(r, found ? HTTP_OK : HTTP_NOT_FOUND, objs);
}

static int ws_publisher_handler(request_rec *r)
{
    const ws_settings_t *set;
    apr_array_header_t *names;
    int status;

    if (r->handler == NULL || strcmp(r->handler, WS_PUBLISHER_NAME) != 0) {
        return DECLINED;
    }
    set = ws_config_settings(r);
    if (set->channels == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, WS_LOGNO(00715)
                      "no WebSocketChannel configured for %s (SetHandler "
                      "websocket-publisher needs one)", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST)
                 | (AP_METHOD_BIT << M_PUT) | (AP_METHOD_BIT << M_DELETE);
    if (r->method_number != M_GET && r->method_number != M_POST
        && r->method_number != M_PUT && r->method_number != M_DELETE) {
        return fail(r, HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    }
    status = ws_chansub_names(r, set, &names);
    if (status != OK) {
        return fail(r, status, "no such channel");
    }
    if (!ws_chan_enabled()) {
        return fail(r, HTTP_SERVICE_UNAVAILABLE, "channels unavailable");
    }
    switch (r->method_number) {
    case M_GET:
        return info(r, names);
    case M_DELETE:
        return delete_channels(r, names);
    default:
        return publish(r, set, names);
    }
}

void ws_publisher_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(ws_publisher_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

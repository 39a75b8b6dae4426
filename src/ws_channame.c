/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_channame.c -- what subscribers and publishers share: a location's
 * channel names (WebSocketChannel expressions), message ids as text, and
 * the built-in plugin of subscriber locations without WebSocketHandler.
 */
#include "httpd.h"
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "ap_expr.h"
#include "http_log.h"

#include "ws_chansub.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

static void *CALLBACK builtin_connect(const WebSocketServer *server)
{
    return (void *)server; /* anything but NULL: accepted */
}

static size_t CALLBACK builtin_message(void *priv,
                                       const WebSocketServer *server,
                                       const int type, unsigned char *buf,
                                       const size_t len)
{
    return 0; /* publishing is ws_chansub_client_message()'s */
}

static WebSocketPlugin builtin_plugin = {
    .size = sizeof(WebSocketPlugin), .version = WEBSOCKET_PLUGIN_VERSION_0,
    .on_connect = builtin_connect, .on_message = builtin_message
};

ws_plugin_t ws_chansub_builtin = {.path = "(channels)",
                                  .symbol = "(built in)",
                                  .plugin = &builtin_plugin};

const char *ws_chansub_id(char *buf, ws_chan_id_t id)
{
    apr_snprintf(buf, WS_CHANSUB_ID_LEN, "%" APR_UINT64_T_FMT ":%"
                 APR_UINT64_T_FMT, id.epoch, id.seq);
    return buf;
}

int ws_chansub_parse_id(const char *v, ws_chan_id_t *id)
{
    char *end;

    if (v == NULL || !apr_isdigit(*v)) {
        return 0;
    }
    id->epoch = apr_strtoi64(v, &end, 10);
    if (*end != ':' || !apr_isdigit(end[1])) {
        return 0;
    }
    id->seq = apr_strtoi64(end + 1, &end, 10);
    return *end == '\0';
}

int ws_chansub_names(request_rec *r, const ws_settings_t *set,
                     apr_array_header_t **out)
{
    apr_array_header_t *names;
    int i, j;

    names = apr_array_make(r->pool, set->channels->nelts,
                           sizeof(const char *));
    for (i = 0; i < set->channels->nelts; i++) {
        const char *err = NULL, *v;

        v = ap_expr_str_exec(r, APR_ARRAY_IDX(set->channels, i,
                                              ap_expr_info_t *), &err);
        if (err != NULL || v == NULL || *v == '\0'
            || strlen(v) > WS_CHAN_NAME_MAX) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WS_LOGNO(00706)
                          "WebSocketChannel gives %s%s%s: no channel, 404",
                          err ? "an error: " : (v && *v ? "a name longer "
                          "than 255 bytes" : "an empty name"),
                          err ? err : "", "");
            return HTTP_NOT_FOUND;
        }
        for (j = 0; j < names->nelts; j++) {
            if (!strcmp(v, APR_ARRAY_IDX(names, j, const char *))) {
                break;
            }
        }
        if (j == names->nelts) {
            APR_ARRAY_PUSH(names, const char *) = v;
        }
    }
    *out = names;
    return OK;
}

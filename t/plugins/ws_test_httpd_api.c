/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_test_httpd_api.c -- a plugin built out of tree (t/tools/check-install)
 * with nothing but "pkg-config --cflags websocket-plugin": it includes
 * httpd's headers, logs through request() and answers with the URI.
 *
 * on_connect: logs "ws_test_httpd_api: connect URI" at notice level;
 * on_message: sends back "URI: message" as text.
 */
#include <string.h>

#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include "websocket_plugin.h"

static void *CALLBACK on_connect(const WebSocketServer *server)
{
    request_rec *r = server->request(server);

    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  "ws_test_httpd_api: connect %s", r->uri);
    /* r->pool lives until on_disconnect returns */
    return apr_pstrcat(r->pool, r->uri, ": ", NULL);
}

static size_t CALLBACK on_message(void *priv, const WebSocketServer *server,
                                  const int type, unsigned char *buffer,
                                  const size_t size)
{
    const char *prefix = priv;
    size_t n = strlen(prefix);
    unsigned char *out = malloc(n + size);
    size_t sent;

    (void)type; /* the answer is text whatever came in */
    if (out == NULL) {
        return 0;
    }
    memcpy(out, prefix, n);
    memcpy(out + n, buffer, size);
    sent = server->send(server, MESSAGE_TYPE_TEXT, out, n + size);
    free(out);
    return sent;
}

static WebSocketPlugin plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, on_connect,
    on_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK httpd_api_init(void)
{
    return &plugin;
}

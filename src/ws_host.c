/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_host.c -- what plugins reach of the module outside a connection
 * (API v1): the WebSocketHost handed to on_load (publishing, the
 * options of the section that loaded the plugin), the one publish of
 * every plugin, with or without a connection, and what a channel
 * status means to a plugin.
 */
#include "httpd.h"
#include <limits.h>
#include <string.h>

#include "http_log.h"
#include "http_main.h"

#include "ws_chan.h"
#include "ws_chanpost.h"
#include "ws_config.h"
#include "ws_host.h"
#include "ws_log.h"
#include "ws_utf8.h"

APLOG_USE_MODULE(websocket);

/* What an APR status of the channels means to a plugin. */
int ws_host_result(apr_status_t rv)
{
    switch (rv) {
    case APR_SUCCESS:
        return WEBSOCKET_OK;
    case APR_EINVAL:
        return WEBSOCKET_ERR_INVALID;
    case APR_EOF:
        return WEBSOCKET_ERR_CLOSED;
    case APR_EMFILE:
        return WEBSOCKET_ERR_LIMIT;
    case APR_NOTFOUND:
        return WEBSOCKET_ERR_NOT_FOUND;
    case APR_ENOTIMPL:
        return WEBSOCKET_ERR_UNAVAILABLE;
    default:
        return WEBSOCKET_ERR_FULL; /* APR_ENOSPC, APR_ENOMEM */
    }
}

int ws_host_publish(server_rec *srv, const char *channel, int type,
                          const unsigned char *buf, size_t len,
                          ws_chan_limits_t limits)
{
    static const unsigned char none[1];
    apr_size_t n = channel ? strlen(channel) : 0;
    ws_chan_posted_t out;
    apr_status_t rv;
    int done = 0, ctype;

    if (n < 1 || n > WS_CHAN_NAME_MAX || (buf == NULL && len > 0)) {
        return WEBSOCKET_ERR_INVALID;
    }
    if (buf == NULL) {
        buf = none;
    }
    if (type == MESSAGE_TYPE_TEXT) {
        if (!ws_utf8_valid(buf, len)) {
            return WEBSOCKET_ERR_INVALID;
        }
        ctype = WS_CHAN_TEXT;
    }
    else if (type == MESSAGE_TYPE_BINARY) {
        ctype = WS_CHAN_BINARY;
    }
    else {
        return WEBSOCKET_ERR_INVALID;
    }
    if (!ws_chan_enabled()) {
        return WEBSOCKET_ERR_UNAVAILABLE;
    }
    rv = ws_chan_post(&channel, 1, ctype, buf, len, limits, &out, &done);
    if (rv == APR_SUCCESS && done == 1) {
        return out.subscribers > INT_MAX ? INT_MAX : (int)out.subscribers;
    }
    if (rv != APR_SUCCESS && rv != APR_EINVAL && ws_chan_refusal_due()) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, srv, WS_LOGNO(00901)
                     "a plugin's message to channel %s was not published "
                     "(%s); logged once a second at most", channel,
                     rv == APR_ENOTIMPL ? "channels unavailable"
                     : "channel memory full: WebSocketChannelMemory");
    }
    return ws_host_result(rv);
}

static const ws_dir_conf_t *section_of(const WebSocketHost *host)
{
    return host ? (const ws_dir_conf_t *)(const void *)host->state : NULL;
}

static int CALLBACK host_publish(const WebSocketHost *host,
                                 const char *channel, const int type,
                                 const unsigned char *buffer,
                                 const size_t buffer_size)
{
    const ws_dir_conf_t *conf = section_of(host);
    ws_chan_limits_t lim;

    lim.messages = WS_DEFAULT_CHAN_HISTORY;
    lim.seconds = WS_DEFAULT_CHAN_HISTORY_SECS;
    if (conf != NULL && conf->chan_history != -1) {
        lim.messages = (apr_uint32_t)conf->chan_history;
    }
    if (conf != NULL && conf->chan_history_secs != -1) {
        lim.seconds = (apr_uint32_t)conf->chan_history_secs;
    }
    return ws_host_publish(ap_server_conf, channel, type, buffer,
                          buffer_size, lim);
}

static const char *CALLBACK host_option(const WebSocketHost *host,
                                        const char *key)
{
    const ws_dir_conf_t *conf = section_of(host);

    if (conf == NULL || key == NULL || conf->plugin_options == NULL) {
        return NULL;
    }
    return apr_table_get(conf->plugin_options, key);
}

void ws_host_init(WebSocketHost *h, const void *section)
{
    h->size = sizeof(WebSocketHost);
    h->version = WEBSOCKET_HOST_VERSION_1;
    h->state = (struct _WebSocketHostState *)(void *)section;
    h->publish = host_publish;
    h->option = host_option;
}

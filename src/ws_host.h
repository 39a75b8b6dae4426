/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_host.h -- the WebSocketHost of v1 plugins, and the publish and the
 * result codes that plugins share with and without a connection.
 */
#ifndef WS_HOST_H
#define WS_HOST_H

#include "httpd.h"

#include "websocket_plugin.h"
#include "ws_chanstore.h"

/**
 * Fills in @p h (publish, options) for a plugin loaded by the section
 * @p section (a ws_dir_conf_t), at load.
 */
void ws_host_init(WebSocketHost *h, const void *section);

/**
 * One publish of a plugin: checks the name, the type and the UTF-8 of
 * text, then ws_chan_post(); a refusal is logged (WS00901) at most once
 * a second, on @p srv.
 * @return the subscribers the channel had, or a WEBSOCKET_ERR_* value
 */
int ws_host_publish(server_rec *srv, const char *channel, int type,
                    const unsigned char *buf, size_t len,
                    ws_chan_limits_t limits);

/** What an APR status of the channels means to a plugin: WEBSOCKET_OK
 * or a WEBSOCKET_ERR_* value. */
int ws_host_result(apr_status_t rv);

#endif /* WS_HOST_H */

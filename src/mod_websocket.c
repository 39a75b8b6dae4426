/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * mod_websocket.c -- the module record: WebSocket (RFC 6455) server with
 * a C plugin API, the successor of apache-websocket 0.1.2.
 */
#include "httpd.h"
#include "http_config.h"

#include "ws_async.h"
#include "ws_chan.h"
#include "ws_chanbroker.h"
#include "ws_chanredis.h"
#include "ws_chansub.h"
#ifdef WS_HAVE_HIREDIS
#include "ws_chanlisten.h"
#endif
#include "ws_chanstatus.h"
#include "ws_check.h"
#include "ws_config.h"
#include "ws_deflate_filter.h"
#include "ws_directives.h"
#include "ws_filters.h"
#include "ws_handshake.h"
#include "ws_plugin.h"
#include "ws_publisher.h"
#include "ws_registry.h"
#include "ws_status.h"

static void register_hooks(apr_pool_t *p)
{
    ws_filters_register_hooks(p);
    ws_deflate_filter_register_hooks(p);
    ws_handshake_register_hooks(p);
    ws_registry_register_hooks(p);
    ws_status_register_hooks(p);
    ws_chanstatus_register_hooks(p);
    ws_async_register_hooks(p);
    ws_check_register_hooks(p);
    ws_chan_register_hooks(p);
    ws_chanbroker_register_hooks(p);
    ws_chanredis_register_hooks(p);
#ifdef WS_HAVE_HIREDIS
    ws_chanlisten_register();
#endif
    /* what the delivery thread and the Redis listener hand over goes to
     * this child's subscribers */
    ws_chan_set_sink(ws_chansub_child_init, ws_chansub_deliver);
    ws_publisher_register_hooks(p);
    ws_plugin_register_hooks(p);
}

AP_DECLARE_MODULE(websocket) = {
    STANDARD20_MODULE_STUFF,
    ws_config_create_dir,
    ws_config_merge_dir,
    NULL,
    NULL,
    ws_config_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};

/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_log.h -- log tags of mod_websocket ("WSnnnnn: ", like httpd's AHnnnnn).
 *
 * One range of numbers per concern; each number is used once.  In use,
 * with the next free number of each range:
 *   00001-00002  directives, plugin loading (ws_directives.c, ws_plugin.c);
 *                next 00003
 *   00101-00116  the session: engine, I/O, registry, blocking driver
 *                (ws_engine.c, ws_recv.c, ws_io.c, ws_registry.c,
 *                ws_blocking.c; 00106 retired); next 00117
 *   00201-00211  the handshake (ws_handshake.c); next 00212
 *   00301-00302  permessage-deflate (ws_deflate_filter.c);
 *                next 00303
 *   00401-00403  the asynchronous driver (ws_async.c, ws_loop.c);
 *                next 00404
 *   00501        server-status (ws_status.c); next 00502
 *   00601-00604  configuration checks at startup (ws_check.c); next 00605
 *   00801-00808  the WebSocket to TCP bridge (ws_bridge.c); next 00809
 *   00701-00715  channels: region, slots and delivery (ws_chan.c),
 *                subscribers (ws_chansub.c), publishers
 *                (ws_publisher.c); next 00716
 *   00901-00920  plugin API v1 (ws_host.c, ws_plugin.c); next 00902
 *   01001-01040  the channel broker, Redis (ws_chanredis.c,
 *                ws_chanlisten.c, and its gap in ws_chansub.c); in use
 *                01001-01009, next 01010
 */
#ifndef WS_LOG_H
#define WS_LOG_H

#define WS_LOGNO(n) "WS" #n ": "

#endif /* WS_LOG_H */

/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanstatus.c -- the channels on server-status (mod_status), after
 * the WebSocket counts: the figures of the channel region and the
 * channel events counted per child (ws_status.c).
 */
#include "httpd.h"

#include "apr_optional_hooks.h"

#include "http_protocol.h"
#include "mod_status.h"

#include "ws_chan.h"
#include "ws_chanredis.h"
#include "ws_chanstatus.h"
#include "ws_status.h"

/* The channel lines: the store's figures and the summed events. */
static int ws_chanstatus_hook(request_rec *r, int flags)
{
    apr_uint64_t counts[WS_STATUS_NCOUNTS];
    ws_chan_store_t *st = ws_chan_lock();
    ws_chan_stats_t cs;

    if (st == NULL) {
        return OK; /* no channels in this server */
    }
    ws_chan_stats(st, &cs);
    ws_chan_unlock();
    ws_status_counts(counts);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "WebSocketChannels: %u\n"
                   "WebSocketChannelSubscriptions: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelPublished: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelRefused: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelDelivered: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelDropped: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelSlowClosed: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelHistoryMessages: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelHistoryBytes: %" APR_UINT64_T_FMT "\n"
                   "WebSocketChannelMemoryUsed: %" APR_SIZE_T_FMT "\n"
                   "WebSocketChannelMemoryTotal: %" APR_SIZE_T_FMT "\n",
                   cs.channels, cs.subscribers, cs.published, cs.failed,
                   counts[WS_STATUS_DELIVERED], counts[WS_STATUS_DROPPED],
                   counts[WS_STATUS_SLOW_CLOSED], cs.history_msgs,
                   cs.history_bytes, cs.bytes_in_use, cs.bytes_total);
        if (ws_chanredis_configured()) {
            ap_rprintf(r, "WebSocketChannelBrokerPublished: %"
                       APR_UINT64_T_FMT "\nWebSocketChannelBrokerFailed: %"
                       APR_UINT64_T_FMT "\n",
                       counts[WS_STATUS_BROKER_PUBLISHED],
                       counts[WS_STATUS_BROKER_FAILED]);
        }
        return OK;
    }
    ap_rprintf(r, "<h3>Channels</h3>\n<dl><dt>%u channels, %"
               APR_UINT64_T_FMT " subscriptions</dt>\n"
               "<dt>%" APR_UINT64_T_FMT " messages published, %"
               APR_UINT64_T_FMT " refused for lack of memory</dt>\n"
               "<dt>%" APR_UINT64_T_FMT " deliveries, %" APR_UINT64_T_FMT
               " dropped for slow subscribers, %" APR_UINT64_T_FMT
               " slow subscribers closed</dt>\n"
               "<dt>history: %" APR_UINT64_T_FMT " messages, %"
               APR_UINT64_T_FMT " bytes</dt>\n"
               "<dt>channel memory: %" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT
               " bytes in use</dt></dl>\n",
               cs.channels, cs.subscribers, cs.published, cs.failed,
               counts[WS_STATUS_DELIVERED], counts[WS_STATUS_DROPPED],
               counts[WS_STATUS_SLOW_CLOSED], cs.history_msgs,
               cs.history_bytes, cs.bytes_in_use, cs.bytes_total);
    if (ws_chanredis_configured()) {
        ap_rprintf(r, "<dl><dt>through Redis (WebSocketChannelBroker): %"
                   APR_UINT64_T_FMT " messages published by this server, %"
                   APR_UINT64_T_FMT " publishes Redis did not take</dt>"
                   "</dl>\n", counts[WS_STATUS_BROKER_PUBLISHED],
                   counts[WS_STATUS_BROKER_FAILED]);
    }
    return OK;
}

void ws_chanstatus_register_hooks(apr_pool_t *p)
{
    /* after the WebSocket counts of ws_status.c (APR_HOOK_MIDDLE) */
    APR_OPTIONAL_HOOK(ap, status_hook, ws_chanstatus_hook, NULL, NULL,
                      APR_HOOK_MIDDLE + 1);
}

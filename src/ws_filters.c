/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_filters.c -- WEBSOCKET_IN turns the client's bytes into frames
 * (WS_FRAME metadata buckets around unmasked payload); WEBSOCKET_OUT turns
 * framed messages from the session into bytes.
 */
#include "httpd.h"
#include "apr_buckets.h"

#include "http_log.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"

#include "ws_bucket.h"
#include "ws_filters.h"

APLOG_USE_MODULE(websocket);

/* how much to ask the filter below for at once: the core reads the
 * socket in buffers of this order anyway */
#define WS_IN_CHUNK 8192

static ap_filter_rec_t *ws_in_handle;
static ap_filter_rec_t *ws_out_handle;

typedef struct {
    ws_frame_parser_t parser;
    apr_bucket_brigade *raw;   /* what we read from below, reused */
    int failed;                /* an ERROR was handed up */
    int eof;
    int h2_upgrade_eos;        /* one EOS to skip, see ws_filters_add() */
} ws_in_ctx_t;

typedef struct {
    apr_bucket_brigade *pending; /* framed bytes not yet passed down */
    apr_bucket_brigade *rest;    /* the part after a slice, reused */
    apr_size_t pending_bytes;
    int nonblock;              /* never wait for the client */
} ws_out_ctx_t;

struct ws_filters_t {
    conn_rec *c;
    ws_in_ctx_t *in;
    ws_out_ctx_t *out;
    ap_filter_t *out_f;        /* WEBSOCKET_OUT itself, for a push */
};

static void emit_meta(apr_bucket_brigade *bb, ws_meta_kind_e kind,
                      const ws_frame_event_t *ev, apr_bucket_alloc_t *list)
{
    ws_meta_t m;

    m.kind = kind;
    m.fin = ev->header.fin;
    m.rsv = ev->header.rsv;
    m.opcode = ev->header.opcode;
    m.length = ev->header.length;
    m.close_code = ev->close_code;
    m.reason = ev->reason;
    APR_BRIGADE_INSERT_TAIL(bb, ws_bucket_frame_create(&m, list));
}

/* Parses @p len bytes into frame events appended to @p bb. */
static void parse_bytes(ws_in_ctx_t *ctx, conn_rec *c, apr_bucket_brigade *bb,
                        const unsigned char *data, apr_size_t len)
{
    apr_bucket_alloc_t *list = c->bucket_alloc;
    unsigned char *out = NULL;
    apr_size_t outcap = 0, used;
    ws_frame_event_t ev;

    while (!ctx->failed) {
        if (out == NULL && len > 0) {
            /* payload is unmasked into a buffer that becomes a heap
             * bucket: at most what this input can hold */
            outcap = len;
            out = apr_bucket_alloc(outcap, list);
        }
        switch (ws_frame_parse(&ctx->parser, data, len, out, outcap, &used,
                               &ev)) {
        case WS_FRAME_NEED_MORE:
            if (out != NULL) {
                apr_bucket_free(out);
            }
            return;
        case WS_FRAME_HEADER:
            ap_log_cerror(APLOG_MARK, APLOG_TRACE4, 0, c,
                          "frame in: opcode %u fin %u rsv %x length %"
                          APR_UINT64_T_FMT, ev.header.opcode, ev.header.fin,
                          ev.header.rsv, ev.header.length);
            emit_meta(bb, WS_META_START, &ev, list);
            break;
        case WS_FRAME_PAYLOAD:
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(
                (const char *)out, ev.len, apr_bucket_free, list));
            out = NULL;
            break;
        case WS_FRAME_END:
            emit_meta(bb, WS_META_END, &ev, list);
            break;
        case WS_FRAME_ERROR:
            emit_meta(bb, WS_META_ERROR, &ev, list);
            ctx->failed = 1;
            break;
        }
        data += used;
        len -= used;
    }
    if (out != NULL) {
        apr_bucket_free(out);
    }
}

static apr_status_t ws_in_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                 ap_input_mode_t mode, apr_read_type_e block,
                                 apr_off_t readbytes)
{
    ws_in_ctx_t *ctx = f->ctx;
    apr_bucket *b;
    apr_status_t rv;

    if (mode == AP_MODE_INIT) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode != AP_MODE_READBYTES) {
        return APR_ENOTIMPL;
    }
    if (ctx->failed || ctx->eof) {
        return APR_EOF;
    }
    for (;;) {
        rv = ap_get_brigade(f->next, ctx->raw, AP_MODE_READBYTES, block,
                            WS_IN_CHUNK);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
            apr_brigade_cleanup(ctx->raw);
            return rv;
        }
        if (APR_BRIGADE_EMPTY(ctx->raw)) {
            /* would block (a blocking read returns data or EOF) */
            return block == APR_BLOCK_READ ? APR_EOF : APR_EAGAIN;
        }
        while (!APR_BRIGADE_EMPTY(ctx->raw)) {
            const char *data;
            apr_size_t len;

            b = APR_BRIGADE_FIRST(ctx->raw);
            if (APR_BUCKET_IS_EOS(b) && ctx->h2_upgrade_eos) {
                /* mod_http2's end of the (empty) request body, not the
                 * end of the stream */
                ctx->h2_upgrade_eos = 0;
                apr_bucket_delete(b);
                continue;
            }
            if (APR_BUCKET_IS_EOS(b)) {
                ctx->eof = 1;
                APR_BUCKET_REMOVE(b);
                APR_BRIGADE_INSERT_TAIL(bb, b);
                break;
            }
            if (!APR_BUCKET_IS_METADATA(b)) {
                rv = apr_bucket_read(b, &data, &len, block);
                if (rv != APR_SUCCESS) {
                    apr_brigade_cleanup(ctx->raw);
                    return rv;
                }
                parse_bytes(ctx, f->c, bb, (const unsigned char *)data, len);
            }
            apr_bucket_delete(b);
            if (ctx->failed) {
                break;
            }
        }
        apr_brigade_cleanup(ctx->raw);
        if (!APR_BRIGADE_EMPTY(bb)) {
            return APR_SUCCESS;
        }
        if (ctx->eof) {
            return APR_EOF;
        }
        /* only part of a header so far: read on */
    }
}

/* The last filter of a primary connection: the core's network filter. */
static ap_filter_t *core_filter(ap_filter_t *f)
{
    while (f->next != NULL) {
        f = f->next;
    }
    return f;
}

/* How much to hand the filters below at once without waiting: the core
 * writes a brigade without blocking unless it holds more than
 * FlushMaxThreshold (then it waits for the socket), and mod_ssl adds a
 * little per record; a quarter of the threshold stays well clear. */
static apr_size_t slice_size(conn_rec *c)
{
    core_server_config *conf =
        ap_get_core_module_config(c->base_server->module_config);
    apr_size_t slice = conf->flush_max_threshold / 4;

    return slice > 16384 ? 16384 : slice < 1024 ? 1024 : slice;
}

/* Non-blocking: passes down what the core can take now, a slice at a
 * time, and keeps the rest.  The core is asked to write what it holds
 * the way the event MPM's write completion does (its filter function
 * with no brigade): a non-blocking write that keeps what the socket
 * refuses.  Nothing more is handed down while the core still holds
 * bytes, so it never reaches the threshold at which it would wait. */
static apr_status_t push_pending(ap_filter_t *f, ws_out_ctx_t *ctx)
{
    conn_rec *c = f->c;
    ap_filter_t *core = core_filter(f);
    apr_size_t slice = slice_size(c);
    apr_status_t rv = APR_SUCCESS;

    for (;;) {
        apr_size_t n = ctx->pending_bytes;
        apr_bucket *cut;

        if (c->data_in_output_filters) {
            rv = core->frec->filter_func.out_func(core, NULL);
            if (rv != APR_SUCCESS || c->data_in_output_filters) {
                break;
            }
        }
        if (APR_BRIGADE_EMPTY(ctx->pending)) {
            break;
        }
        if (n > slice) {
            n = slice;
            rv = apr_brigade_partition(ctx->pending, (apr_off_t)n, &cut);
            if (rv != APR_SUCCESS) {
                break;
            }
            ctx->rest = apr_brigade_split_ex(ctx->pending, cut, ctx->rest);
        }
        ctx->pending_bytes -= n;
        rv = ap_pass_brigade(f->next, ctx->pending);
        apr_brigade_cleanup(ctx->pending);
        APR_BRIGADE_CONCAT(ctx->pending, ctx->rest);
        if (rv != APR_SUCCESS) {
            break;
        }
        /* the core may have set a small brigade aside without trying to
         * write it: the next round's first step does */
    }
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(ctx->pending);
        ctx->pending_bytes = 0;
    }
    return rv;
}

/* Non-blocking mode: keeps the framed bytes (copying what is transient)
 * and writes what the client takes now. */
static apr_status_t hold_and_push(ap_filter_t *f, ws_out_ctx_t *ctx,
                                  apr_bucket_brigade *bb)
{
    apr_bucket *b;
    apr_status_t rv;

    while (!APR_BRIGADE_EMPTY(bb)) {
        b = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_METADATA(b)) {
            /* FLUSH means "now" to the core, which would wait for it */
            apr_bucket_delete(b);
            continue;
        }
        rv = apr_bucket_setaside(b, f->c->pool);
        if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) {
            apr_brigade_cleanup(bb);
            return rv;
        }
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(ctx->pending, b);
        ctx->pending_bytes += b->length;
    }
    return push_pending(f, ctx);
}

/* Replaces START ... END around a frame's payload by the frame header. */
static apr_status_t ws_out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ws_out_ctx_t *ctx = f->ctx;
    apr_bucket *b, *next, *start = NULL;
    apr_off_t len = 0;

    if (f->c->aborted) {
        apr_brigade_cleanup(bb);
        return APR_ECONNABORTED;
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
        next = APR_BUCKET_NEXT(b);
        if (!WS_BUCKET_IS_FRAME(b)) {
            if (start != NULL && !APR_BUCKET_IS_METADATA(b)) {
                if (b->length == (apr_size_t)-1) {
                    const char *d;
                    apr_size_t n;
                    apr_status_t rv = apr_bucket_read(b, &d, &n,
                                                      APR_BLOCK_READ);
                    if (rv != APR_SUCCESS) {
                        return rv;
                    }
                }
                len += b->length;
            }
            continue;
        }
        {
            ws_meta_t *m = ws_bucket_frame_meta(b);

            if (m->kind == WS_META_START) {
                start = b;
                len = 0;
            }
            else if (m->kind == WS_META_END && start != NULL) {
                ws_meta_t *sm = ws_bucket_frame_meta(start);
                unsigned char hdr[WS_FRAME_HEADER_MAX];
                apr_size_t hlen = ws_frame_header_write(
                    hdr, sm->fin, sm->rsv, sm->opcode, (apr_uint64_t)len);

                APR_BUCKET_INSERT_BEFORE(start, apr_bucket_heap_create(
                    (const char *)hdr, hlen, NULL, f->c->bucket_alloc));
                apr_bucket_delete(start);
                apr_bucket_delete(b);
                start = NULL;
            }
            else {
                apr_bucket_delete(b);
            }
        }
    }
    if (!ctx->nonblock) {
        /* a thread that may wait: what an earlier non-blocking write
         * left goes first, then this, blocking (bounded by the socket's
         * timeout, WebSocketSendTimeout) */
        if (!APR_BRIGADE_EMPTY(ctx->pending)) {
            APR_BRIGADE_PREPEND(bb, ctx->pending);
            ctx->pending_bytes = 0;
        }
        return ap_pass_brigade(f->next, bb);
    }
    return hold_and_push(f, ctx, bb);
}

ws_filters_t *ws_filters_add(conn_rec *c, apr_uint64_t max_message,
                            int too_large_code)
{
    ws_filters_t *fs = apr_pcalloc(c->pool, sizeof(*fs));
    ws_in_ctx_t *ctx = apr_pcalloc(c->pool, sizeof(*ctx));
    ws_out_ctx_t *out = apr_pcalloc(c->pool, sizeof(*out));

    ws_frame_parser_init(&ctx->parser, max_message, 0, too_large_code);
    /* HTTP/2 (RFC 8441, mod_http2 H2WebSockets on): c is a secondary
     * connection whose input filter (H2_C2_NET_IN, httpd 2.4.x h2_c2.c)
     * hands out a lone EOS on its first read of an upgraded stream, so
     * that the request looks complete without a body; the stream itself
     * goes on.  Skip that one EOS: a real end of the stream follows as a
     * further EOS or APR_EOF, and if someone read the marker before us,
     * skipping the real EOS still leaves the APR_EOF that follows it. */
    ctx->h2_upgrade_eos = c->master != NULL;
    ctx->raw = apr_brigade_create(c->pool, c->bucket_alloc);
    out->pending = apr_brigade_create(c->pool, c->bucket_alloc);
    out->rest = apr_brigade_create(c->pool, c->bucket_alloc);
    ap_add_input_filter_handle(ws_in_handle, ctx, NULL, c);
    fs->out_f = ap_add_output_filter_handle(ws_out_handle, out, NULL, c);
    fs->c = c;
    fs->in = ctx;
    fs->out = out;
    return fs;
}

ws_frame_parser_t *ws_filters_parser(ws_filters_t *fs)
{
    return &fs->in->parser;
}

int ws_filters_mid_frame(const ws_filters_t *fs)
{
    return fs->in->parser.hlen > 0 || fs->in->parser.in_payload;
}

void ws_filters_set_nonblock(ws_filters_t *fs, int on)
{
    /* only a primary connection's core can be asked not to wait; an
     * HTTP/2 stream is always served by a thread of its own */
    fs->out->nonblock = on && fs->c->master == NULL;
}

apr_status_t ws_filters_push(ws_filters_t *fs)
{
    if (!fs->out->nonblock || fs->out_f == NULL) {
        return APR_SUCCESS;
    }
    if (fs->c->aborted) {
        return APR_ECONNABORTED;
    }
    return push_pending(fs->out_f, fs->out);
}

apr_size_t ws_filters_pending(const ws_filters_t *fs)
{
    /* the core's share counts as a byte: it holds something */
    return fs->out->pending_bytes + (fs->c->data_in_output_filters ? 1 : 0);
}

void ws_filters_register_hooks(apr_pool_t *p)
{
    /* AP_FTYPE_CONNECTION + 1: above mod_ssl (CONNECTION + 5), so frames
     * are decoded from and encoded into plaintext whatever the
     * transport, and below anything of a request -- after the 101 the
     * request's filters are out of the way.  The + 1 leaves room above
     * for the permessage-deflate pair (AP_FTYPE_CONNECTION), which must
     * sit between these filters and the session. */
    ws_in_handle = ap_register_input_filter("WEBSOCKET_IN", ws_in_filter,
                                            NULL, AP_FTYPE_CONNECTION + 1);
    ws_out_handle = ap_register_output_filter("WEBSOCKET_OUT", ws_out_filter,
                                              NULL, AP_FTYPE_CONNECTION + 1);
}

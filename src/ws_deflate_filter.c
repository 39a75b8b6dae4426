/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_deflate_filter.c -- permessage-deflate (RFC 7692) as a filter pair:
 * WEBSOCKET_DEFLATE_IN inflates the compressed messages WEBSOCKET_IN
 * hands up, WEBSOCKET_DEFLATE_OUT compresses the session's messages on
 * their way to WEBSOCKET_OUT.  The session sees plain messages only.
 */
#include "httpd.h"
#include "apr_buckets.h"

#include "http_connection.h"
#include "http_log.h"

#include "ws_bucket.h"
#include "ws_deflate_filter.h"
#include "ws_log.h"

APLOG_USE_MODULE(websocket);

/* inflated output handed up per read when the caller names no size */
#define WS_INFLATE_BUDGET 65536
/* size of the buffers inflated output is written to: fits the bucket
 * allocator's own blocks */
#define WS_INFLATE_CHUNK APR_BUCKET_BUFF_SIZE

static ap_filter_rec_t *deflate_in_handle;
static ap_filter_rec_t *deflate_out_handle;

typedef struct {
    ws_inflater_t inf;
    apr_bucket_brigade *pending; /* read from below, not yet handed up */
    apr_uint64_t max_message;    /* limit on the inflated size; 0 none */
    int too_large_code;
    int compressed;              /* the open message has RSV1 */
    int in_data;                 /* in a data frame of such a message */
    int final_frame;             /* ... which is its last */
    apr_uint64_t produced;       /* inflated bytes of the open message */
    int failed;                  /* an ERROR was handed up */
} in_ctx_t;

typedef struct {
    ws_deflater_t def;
    apr_size_t min_size;
    int msg_compressed;          /* the message being sent is compressed */
    int in_data;                 /* inside one of its frames */
} out_ctx_t;

static apr_status_t release_zlib(void *data)
{
    void **z = data;

    ws_inflater_release(z[0]);
    ws_deflater_release(z[1]);
    return APR_SUCCESS;
}

/* --- input ---------------------------------------------------------- */

/* Hands up an ERROR: the session fails the connection with @p code. */
static void fail_in(in_ctx_t *ctx, apr_bucket_brigade *bb, conn_rec *c,
                    int code, const char *reason)
{
    ws_meta_t m;

    memset(&m, 0, sizeof(m));
    m.kind = WS_META_ERROR;
    m.close_code = code;
    m.reason = reason;
    APR_BRIGADE_INSERT_TAIL(bb, ws_bucket_frame_create(&m, c->bucket_alloc));
    apr_brigade_cleanup(ctx->pending);
    ctx->failed = 1;
    ws_inflater_release(&ctx->inf);
}

/* Inflates what it can of @p *d (or, with @p finish, ends the message),
 * appending the output to @p bb.  Output is bounded twice: by *budget,
 * what this read may hand up (the rest waits in the inflater and in
 * ctx->pending), and by the message limit, stopped one byte past it so
 * that the limit check above us fires -- a small frame that inflates to
 * gigabytes is never inflated beyond that (RFC 7692 section 8.1 leaves
 * this to us; RFC 6455 section 10.4). */
static ws_zresult_e inflate_into(in_ctx_t *ctx, conn_rec *c,
                                 apr_bucket_brigade *bb,
                                 const unsigned char **d, apr_size_t *n,
                                 int finish, apr_size_t *budget)
{
    ws_zresult_e r = WS_ZOK;

    while (*budget > 0) {
        apr_size_t room = *budget < WS_INFLATE_CHUNK ? *budget
                                                     : WS_INFLATE_CHUNK;
        apr_size_t before = *n, outlen;
        unsigned char *buf;

        if (ctx->max_message != 0) {
            apr_uint64_t left = ctx->max_message + 1 - ctx->produced;
            room = left < room ? (apr_size_t)left : room;
        }
        buf = apr_bucket_alloc(room, c->bucket_alloc);
        outlen = room;
        r = ws_inflate(&ctx->inf, d, n, buf, &outlen, finish);
        if (outlen > 0) {
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(
                (const char *)buf, outlen, apr_bucket_free,
                c->bucket_alloc));
        }
        else {
            apr_bucket_free(buf);
        }
        ctx->produced += outlen;
        *budget -= outlen;
        if (ctx->max_message != 0 && ctx->produced > ctx->max_message) {
            fail_in(ctx, bb, c, ctx->too_large_code,
                    "inflated message over the size limit");
            return WS_ZCORRUPT;
        }
        if (r == WS_ZCORRUPT) {
            /* RFC 7692 section 6.2 leaves the code to us: the data of
             * the message is invalid, as 1007 says (RFC 6455 7.4.1) */
            fail_in(ctx, bb, c, WS_CLOSE_INVALID_DATA,
                    "invalid compressed data");
            return r;
        }
        if (r == WS_ZNOMEM) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, APR_ENOMEM, c,
                          WS_LOGNO(00301) "no memory for zlib's inflater");
            fail_in(ctx, bb, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
            return r;
        }
        if (r == WS_ZDONE || (outlen == 0 && *n == before)) {
            break; /* message done, or input needed */
        }
    }
    return r;
}

/* The START of a frame: RSV1 rules of RFC 7692 section 6.1.  Returns 0
 * if the frame broke them (the ERROR is in bb). */
static int on_start(in_ctx_t *ctx, conn_rec *c, apr_bucket_brigade *bb,
                    ws_meta_t *m)
{
    if (m->opcode >= WS_OP_CLOSE) {
        /* control frames are never compressed; their payload passes */
        if (m->rsv & WS_RSV1) {
            fail_in(ctx, bb, c, WS_CLOSE_PROTOCOL_ERROR,
                    "RSV1 set on a control frame");
            return 0;
        }
        ctx->in_data = 0;
        return 1;
    }
    if (m->opcode == WS_OP_CONT) {
        /* RSV1 marks a message, on its first frame only */
        if (m->rsv & WS_RSV1) {
            fail_in(ctx, bb, c, WS_CLOSE_PROTOCOL_ERROR,
                    "RSV1 set on a continuation frame");
            return 0;
        }
    }
    else {
        ctx->compressed = (m->rsv & WS_RSV1) != 0;
        ctx->produced = 0;
        /* above us nothing knows of RSV1: the message is plain now */
        m->rsv &= ~(unsigned int)WS_RSV1;
    }
    ctx->in_data = ctx->compressed;
    ctx->final_frame = m->fin;
    return 1;
}

/* Moves ctx->pending to @p bb, inflating compressed payload, until it is
 * empty or the budget is spent. */
static void process(in_ctx_t *ctx, conn_rec *c, apr_bucket_brigade *bb,
                    apr_size_t *budget)
{
    apr_bucket *b;

    while (!APR_BRIGADE_EMPTY(ctx->pending) && !ctx->failed) {
        b = APR_BRIGADE_FIRST(ctx->pending);
        if (WS_BUCKET_IS_FRAME(b)) {
            ws_meta_t *m = ws_bucket_frame_meta(b);

            if (m->kind == WS_META_START && !on_start(ctx, c, bb, m)) {
                return;
            }
            if (m->kind == WS_META_END && ctx->in_data) {
                if (ctx->final_frame) {
                    const unsigned char *none = NULL;
                    apr_size_t zero = 0;

                    /* the message ends: the trailer goes in, the rest of
                     * its output comes out before its END */
                    if (inflate_into(ctx, c, bb, &none, &zero, 1, budget)
                        != WS_ZDONE) {
                        return; /* failed, or the budget is spent */
                    }
                    ctx->compressed = 0;
                }
                ctx->in_data = 0;
            }
            if (m->kind == WS_META_ERROR) {
                ctx->failed = 1;
            }
        }
        else if (ctx->in_data && !APR_BUCKET_IS_METADATA(b)) {
            const char *data;
            const unsigned char *d;
            apr_size_t n;

            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ)
                != APR_SUCCESS) {
                fail_in(ctx, bb, c, WS_CLOSE_INTERNAL_ERROR,
                        "cannot read a frame's payload");
                return;
            }
            d = (const unsigned char *)data;
            if (inflate_into(ctx, c, bb, &d, &n, 0, budget) != WS_ZOK
                && ctx->failed) {
                return;
            }
            if (n > 0) {
                /* the budget is spent: keep the rest for the next read */
                apr_bucket_split(b, (apr_size_t)(d - (const unsigned char *)
                                                         data));
                apr_bucket_delete(b);
                return;
            }
            apr_bucket_delete(b);
            continue;
        }
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
}

static apr_status_t deflate_in_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                      ap_input_mode_t mode,
                                      apr_read_type_e block,
                                      apr_off_t readbytes)
{
    in_ctx_t *ctx = f->ctx;
    apr_size_t budget;
    apr_status_t rv;

    if (mode == AP_MODE_INIT) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode == AP_MODE_SPECULATIVE) {
        /* only httpd's peek after the handler, answered by WEBSOCKET_IN
         * for the asynchronous driver (see there) */
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode != AP_MODE_READBYTES) {
        return APR_ENOTIMPL;
    }
    if (ctx->failed) {
        return APR_EOF;
    }
    budget = readbytes > 0 ? (apr_size_t)readbytes : WS_INFLATE_BUDGET;
    for (;;) {
        if (APR_BRIGADE_EMPTY(ctx->pending)) {
            rv = ap_get_brigade(f->next, ctx->pending, mode, block,
                                readbytes);
            if (rv != APR_SUCCESS || APR_BRIGADE_EMPTY(ctx->pending)) {
                return rv;
            }
        }
        process(ctx, f->c, bb, &budget);
        if (!APR_BRIGADE_EMPTY(bb) || ctx->failed) {
            return APR_SUCCESS;
        }
        /* compressed bytes that gave no output yet: read on */
    }
}

/* --- output --------------------------------------------------------- */

typedef struct {
    apr_bucket *before;
    apr_bucket_alloc_t *list;
} emit_baton_t;

static apr_status_t emit_before(void *baton, const unsigned char *data,
                                apr_size_t len)
{
    emit_baton_t *e = baton;

    /* heap_create without a free function copies: zlib's output sits in
     * a stack buffer */
    APR_BUCKET_INSERT_BEFORE(e->before, apr_bucket_heap_create(
        (const char *)data, len, NULL, e->list));
    return APR_SUCCESS;
}

/* Compresses TEXT and BINARY messages (START/payload/END from the
 * session) in place in the brigade; control frames pass untouched. */
static apr_status_t deflate_out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    out_ctx_t *ctx = f->ctx;
    apr_bucket *b, *next;
    emit_baton_t e;
    apr_status_t rv = APR_SUCCESS;

    if (f->c->aborted) {
        apr_brigade_cleanup(bb);
        return APR_ECONNABORTED;
    }
    e.list = f->c->bucket_alloc;
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
        next = APR_BUCKET_NEXT(b);
        e.before = b;
        if (WS_BUCKET_IS_FRAME(b)) {
            ws_meta_t *m = ws_bucket_frame_meta(b);

            if (m->kind == WS_META_START && m->opcode < WS_OP_CLOSE) {
                if (m->opcode != WS_OP_CONT) {
                    /* RSV1 on the first frame marks the message (7.2.1);
                     * the declared length is the uncompressed one */
                    ctx->msg_compressed = m->length >= ctx->min_size;
                    if (ctx->msg_compressed) {
                        m->rsv |= WS_RSV1;
                    }
                }
                ctx->in_data = ctx->msg_compressed;
            }
            else if (m->kind == WS_META_END && ctx->in_data) {
                /* the sync flush ends the message, before its END */
                rv = ws_deflate(&ctx->def, NULL, 0, m->fin, emit_before, &e);
                ctx->in_data = 0;
                if (rv != APR_SUCCESS) {
                    goto cleanup;
                }
            }
        }
        else if (ctx->in_data && !APR_BUCKET_IS_METADATA(b)) {
            const char *data;
            apr_size_t n;

            rv = apr_bucket_read(b, &data, &n, APR_BLOCK_READ);
            if (rv == APR_SUCCESS) {
                rv = ws_deflate(&ctx->def, (const unsigned char *)data, n,
                                0, emit_before, &e);
            }
            if (rv != APR_SUCCESS) {
                goto cleanup;
            }
            apr_bucket_delete(b);
        }
    }
    return ap_pass_brigade(f->next, bb);

cleanup:
    ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, f->c,
                  WS_LOGNO(00302) "permessage-deflate: cannot compress");
    apr_brigade_cleanup(bb);
    return rv;
}

void ws_deflate_filter_add(conn_rec *c, ws_frame_parser_t *parser,
                           const ws_deflate_params_t *params, int mem_level,
                           apr_size_t min_size, apr_uint64_t max_message,
                           int too_large_code)
{
    in_ctx_t *in = apr_pcalloc(c->pool, sizeof(*in));
    out_ctx_t *out = apr_pcalloc(c->pool, sizeof(*out));
    void **z = apr_palloc(c->pool, 2 * sizeof(void *));

    ws_inflater_init(&in->inf, params->client_window_bits,
                     params->client_no_context_takeover);
    in->pending = apr_brigade_create(c->pool, c->bucket_alloc);
    in->max_message = max_message;
    in->too_large_code = too_large_code;
    ws_deflater_init(&out->def, params->server_window_bits, mem_level,
                     params->server_no_context_takeover);
    out->min_size = min_size;
    z[0] = &in->inf;
    z[1] = &out->def;
    apr_pool_cleanup_register(c->pool, z, release_zlib,
                              apr_pool_cleanup_null);

    /* RFC 7692 section 6: the extension claims RSV1.  The declared
     * length of a compressed message says little about what it inflates
     * to, which is limited by WEBSOCKET_DEFLATE_IN; the parser still
     * refuses declared lengths far beyond anything deflate can expand
     * a message to within the limit (stored blocks: 5 bytes per block) */
    parser->rsv_allowed |= WS_RSV1;
    if (max_message != 0) {
        parser->max_compressed = max_message + max_message / 8 + 1024;
    }
    ap_add_input_filter_handle(deflate_in_handle, in, NULL, c);
    ap_add_output_filter_handle(deflate_out_handle, out, NULL, c);
}

void ws_deflate_filter_register_hooks(apr_pool_t *p)
{
    /* AP_FTYPE_CONNECTION, one below WEBSOCKET_IN/OUT (CONNECTION + 1):
     * the pair sits between the session and the frame codec, so it sees
     * frames (START/payload/END), never bytes of the wire, and the
     * session's message checks (UTF-8, size) apply to inflated data.
     * A distinct ftype rather than the same one: util_filter.c places a
     * filter added later *below* those of equal ftype already there, so
     * the order would otherwise depend on who is added first. */
    deflate_in_handle = ap_register_input_filter("WEBSOCKET_DEFLATE_IN",
                                                 deflate_in_filter, NULL,
                                                 AP_FTYPE_CONNECTION);
    deflate_out_handle = ap_register_output_filter("WEBSOCKET_DEFLATE_OUT",
                                                   deflate_out_filter, NULL,
                                                   AP_FTYPE_CONNECTION);
}

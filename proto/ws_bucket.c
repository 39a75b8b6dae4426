/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_bucket.c -- the WS_FRAME metadata bucket type.
 */
#include <string.h>

#include "ws_bucket.h"

static apr_status_t frame_read(apr_bucket *b, const char **str,
                               apr_size_t *len, apr_read_type_e block)
{
    *str = NULL;
    *len = 0;
    return APR_SUCCESS;
}

static void frame_destroy(void *data)
{
    apr_bucket_free(data);
}

static apr_status_t frame_copy(apr_bucket *e, apr_bucket **c)
{
    *c = ws_bucket_frame_create(e->data, e->list);
    return APR_SUCCESS;
}

const apr_bucket_type_t ws_bucket_type_frame = {
    "WS_FRAME", 5, APR_BUCKET_METADATA,
    frame_destroy,
    frame_read,
    apr_bucket_setaside_noop,
    apr_bucket_split_notimpl,
    frame_copy
};

apr_bucket *ws_bucket_frame_create(const ws_meta_t *meta,
                                   apr_bucket_alloc_t *list)
{
    apr_bucket *b = apr_bucket_alloc(sizeof(*b), list);
    ws_meta_t *m = apr_bucket_alloc(sizeof(*m), list);

    memcpy(m, meta, sizeof(*m));
    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    b->type = &ws_bucket_type_frame;
    b->length = 0;
    b->start = 0;
    b->data = m;
    return b;
}

ws_meta_t *ws_bucket_frame_meta(apr_bucket *b)
{
    return b->data;
}

/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_chanreply.c -- the channel broker's Redis replies turned into
 * deliveries for this child's subscribers (ws_chanreply.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ws_chanlisten.h"
#include "ws_chanreply.h"

/* A message as ws_chan.c makes them: the name here, the payload in one
 * buffer that every subscriber's queue of this child will refer to. */
static ws_chan_delivery_t *make_msg(const char *name, apr_size_t nlen,
                                  ws_chan_id_t id, int type,
                                  const char *data, apr_size_t len)
{
    ws_chan_delivery_t *c = malloc(sizeof(*c) + nlen + 1);

    if (c != NULL && (c->plain = ws_payload_make(len)) == NULL) {
        free(c);
        c = NULL;
    }
    if (c == NULL) {
        return NULL; /* the ids tell the subscribers */
    }
    c->next = NULL;
    c->id = id;
    c->log = 0;
    c->type = type;
    c->name_len = nlen;
    c->len = len;
    c->meta = NULL;
    memcpy((char *)(c + 1), name, nlen);
    ((char *)(c + 1))[nlen] = '\0';
    c->name = (char *)(c + 1);
    c->data = (const char *)c->plain->data;
    if (len) {
        memcpy(c->plain->data, data, len);
    }
    return c;
}

/* "<epoch>:<seq>:<type>:<data>" from the pub/sub channel "ws:NAME". */
ws_chan_delivery_t *ws_chanreply_message(const redisReply *ch,
                                         const redisReply *p)
{
    const char *s = p->str, *end = p->str + p->len, *c;
    apr_uint64_t v[3] = {0, 0, 0};
    ws_chan_id_t id;
    int i;

    if (ch->len < 4 || ch->len - 3 > WS_CHAN_NAME_MAX) {
        return NULL;
    }
    for (i = 0; i < 3; i++) {
        for (c = s; c < end && *c >= '0' && *c <= '9'; c++) {
            v[i] = v[i] * 10 + (apr_uint64_t)(*c - '0');
        }
        if (c == s || c == end || *c != ':') {
            return NULL;
        }
        s = c + 1;
    }
    id.epoch = v[0];
    id.seq = v[1];
    return make_msg(ch->str + 3, ch->len - 3, id, (int)v[2], s,
                    (apr_size_t)(end - s));
}

void ws_chanreply_history(const char *name, const redisReply *r,
                          ws_chan_id_t last, ws_chan_delivery_t ***tail)
{
    apr_size_t nl = strlen(name), k, n = (r->elements - 2) / 3;
    ws_chan_delivery_t *m;
    ws_chan_id_t id;

    for (k = 0; k < n; k++) {
        const redisReply *d = r->element[2 + 3 * k + 2];

        id.epoch = last.epoch;
        id.seq = ws_chanredis_u64(r->element[2 + 3 * k]);
        m = make_msg(name, nl, id,
                     (int)ws_chanredis_u64(r->element[2 + 3 * k + 1]),
                     d->type == REDIS_REPLY_STRING ? d->str : "",
                     d->type == REDIS_REPLY_STRING ? d->len : 0);
        if (m != NULL) {
            **tail = m;
            *tail = &m->next;
        }
    }
    m = make_msg(name, nl, last, WS_CHAN_MARK, "", 0);
    if (m != NULL) {
        **tail = m;
        *tail = &m->next;
    }
}

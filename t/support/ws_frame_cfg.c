/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_frame_cfg.c -- frame parser settings of the unit tests and the
 * fuzzer, and the one way both set a parser up from them.
 */
#include "ws_frame_cfg.h"

const ws_frame_cfg_t ws_frame_cfg_default = {0, 0, WS_CLOSE_TOO_LARGE, 1};

int ws_frame_cfg_init_parser(ws_frame_parser_t *p, const ws_frame_cfg_t *c)
{
    ws_frame_parser_init(p, c->max, c->rsv_allowed, c->too_large);
    if (p->require_mask != 1) {
        return 0;
    }
    p->require_mask = c->require_mask;
    return 1;
}

/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_frame_cfg.h -- the frame parser settings a test runs with, shared by
 * the unit tests (t/unit/test_frame.c) and the fuzzer
 * (t/fuzz/fuzz_frame.c), and how a parser is set up from them.
 */
#ifndef WS_FRAME_CFG_H
#define WS_FRAME_CFG_H

#include "ws_frame.h"

/** Parser settings of one test run. */
typedef struct {
    apr_uint64_t max;          /**< message size limit, 0 for none */
    unsigned int rsv_allowed;  /**< RSV bits a negotiated extension claims */
    int too_large;             /**< close code past the limit: 1009, 1004 */
    unsigned int require_mask; /**< 1: a server's parser, 0: a client's */
} ws_frame_cfg_t;

/** What the module runs with unless a test says otherwise: no limit, no
 * extension, 1009, masked frames required. */
extern const ws_frame_cfg_t ws_frame_cfg_default;

/**
 * Sets up @p p with the settings of @p c: ws_frame_parser_init(), then
 * the masking rule.
 * @return 1, or 0 when ws_frame_parser_init() did not require masked
 *         frames by itself (RFC 6455 section 5.1: a server must), which
 *         the caller reports as a failure
 */
int ws_frame_cfg_init_parser(ws_frame_parser_t *p, const ws_frame_cfg_t *c);

#endif /* WS_FRAME_CFG_H */

/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_shmalloc.h -- a bounded allocator inside one memory region that
 * speaks offsets, not pointers, so the region may live in shared memory.
 */
#ifndef WS_SHMALLOC_H
#define WS_SHMALLOC_H

#include <apr.h>
#include <apr_errno.h>

/** Free lists, one per power-of-two size class (32 bytes up). */
#define WS_SHMALLOC_CLASSES 32

/** Bytes a block costs beyond its payload (boundary tags). */
#define WS_SHMALLOC_OVERHEAD 16

/** Payloads are aligned to this many bytes (relative to the region). */
#define WS_SHMALLOC_ALIGN 8

/**
 * The allocator's state.  It lives inside the region it manages (or
 * anywhere else): it holds offsets only, relative to the region's base
 * address that every call is given.  Blocks carry a boundary tag at
 * both ends so that a freed block merges with free neighbours at once;
 * free blocks sit on segregated lists by size class, searched good-fit.
 */
typedef struct {
    apr_size_t start;  /**< offset of the arena (the prologue tag) */
    apr_size_t end;    /**< offset just past the arena */
    apr_size_t in_use; /**< bytes of allocated blocks, tags included */
    apr_size_t blocks; /**< allocated blocks */
    apr_size_t free_lists[WS_SHMALLOC_CLASSES]; /**< 0: empty */
} ws_shmalloc_t;

/**
 * Formats the arena [@p start, @p end) of the region at @p base.
 * @param a the state to fill (may lie inside the region, outside the arena)
 * @return APR_EINVAL if the arena cannot hold one minimal block or its
 *         bounds are not aligned to WS_SHMALLOC_ALIGN
 * @remark Not thread-safe: the caller serialises every call on @p a.
 */
apr_status_t ws_shmalloc_init(void *base, ws_shmalloc_t *a, apr_size_t start,
                              apr_size_t end);

/**
 * Allocates @p size bytes (0 is allowed and gives a minimal block).
 * @return the offset of the payload from @p base, aligned to
 *         WS_SHMALLOC_ALIGN; 0 if no free block is large enough
 * @remark Not thread-safe.  The payload is not cleared.  It stays valid
 *         until ws_shmalloc_free(); writing past @p size bytes corrupts
 *         the arena (ws_shmalloc_check() notices).
 */
apr_size_t ws_shmalloc_alloc(void *base, ws_shmalloc_t *a, apr_size_t size);

/**
 * Returns the block at @p off (from ws_shmalloc_alloc()) and merges it
 * with free neighbours.  An offset of 0 is ignored.
 * @remark Not thread-safe.  Freeing anything else corrupts the arena.
 */
void ws_shmalloc_free(void *base, ws_shmalloc_t *a, apr_size_t off);

/**
 * The payload bytes usable at @p off (at least what was asked for).
 * @remark Not thread-safe.
 */
apr_size_t ws_shmalloc_size(const void *base, apr_size_t off);

/**
 * The largest request that could succeed right now.
 * @remark Not thread-safe; walks the free lists.
 */
apr_size_t ws_shmalloc_largest(const void *base, const ws_shmalloc_t *a);

/**
 * Verifies the whole arena: tags, alignment, every free block merged
 * with its neighbours and on the list of its class, the counters.
 * @return APR_SUCCESS, or APR_EGENERAL at the first inconsistency
 * @remark Not thread-safe; walks every block.  Meant for tests and for
 *         validating a region that survived a restart.
 */
apr_status_t ws_shmalloc_check(const void *base, const ws_shmalloc_t *a);

#endif /* WS_SHMALLOC_H */

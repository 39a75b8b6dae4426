/* Licensed under the Apache License, Version 2.0 (see LICENSE).
 *
 * ws_shmalloc.c -- boundary-tag allocator over offsets in one region,
 * with immediate coalescing and segregated free lists.
 */
#include "ws_shmalloc.h"

/* A block at offset b: an 8-byte header tag, the payload, an 8-byte
 * footer tag equal to the header.  A tag is the block's size (a
 * multiple of 8, tags included) with bit 0 set while allocated.  A free
 * block keeps the offsets of its list neighbours in its first 16 payload
 * bytes, hence the minimal block of 32 bytes.  The arena starts with a
 * prologue tag and ends with an epilogue tag, both "allocated, size 0",
 * so that merging never looks outside it. */
#define TAG 8
#define MIN_BLOCK 32
#define USED 1u

typedef apr_uint64_t tag_t;

#define AT(base, off) ((tag_t *)(void *)((char *)(base) + (off)))
#define CAT(base, off) ((const tag_t *)(const void *)((const char *)(base) \
                                                      + (off)))
#define SIZE(t) ((apr_size_t)((t) & ~(tag_t)7))
#define NEXT(base, b) AT(base, (b) + TAG)
#define PREV(base, b) AT(base, (b) + 2 * TAG)

static unsigned size_class(apr_size_t size)
{
    unsigned c = 0;

    size >>= 6; /* 32..63 -> class 0 */
    while (size && c < WS_SHMALLOC_CLASSES - 1) {
        size >>= 1;
        c++;
    }
    return c;
}

static void set_tags(void *base, apr_size_t b, apr_size_t size, int used)
{
    tag_t t = (tag_t)size | (used ? USED : 0);

    *AT(base, b) = t;
    *AT(base, b + size - TAG) = t;
}

static void list_insert(void *base, ws_shmalloc_t *a, apr_size_t b)
{
    apr_size_t *head = &a->free_lists[size_class(SIZE(*AT(base, b)))];

    *NEXT(base, b) = *head;
    *PREV(base, b) = 0;
    if (*head) {
        *PREV(base, *head) = b;
    }
    *head = b;
}

static void list_remove(void *base, ws_shmalloc_t *a, apr_size_t b)
{
    apr_size_t next = (apr_size_t)*NEXT(base, b);
    apr_size_t prev = (apr_size_t)*PREV(base, b);

    if (prev) {
        *NEXT(base, prev) = next;
    }
    else {
        a->free_lists[size_class(SIZE(*AT(base, b)))] = next;
    }
    if (next) {
        *PREV(base, next) = prev;
    }
}

apr_status_t ws_shmalloc_init(void *base, ws_shmalloc_t *a, apr_size_t start,
                              apr_size_t end)
{
    unsigned c;

    if (start % WS_SHMALLOC_ALIGN || end % WS_SHMALLOC_ALIGN || end < start
        || end - start < 2 * TAG + MIN_BLOCK) {
        return APR_EINVAL;
    }
    a->start = start;
    a->end = end;
    a->in_use = 0;
    a->blocks = 0;
    for (c = 0; c < WS_SHMALLOC_CLASSES; c++) {
        a->free_lists[c] = 0;
    }
    *AT(base, start) = USED;     /* prologue */
    *AT(base, end - TAG) = USED; /* epilogue */
    set_tags(base, start + TAG, end - start - 2 * TAG, 0);
    list_insert(base, a, start + TAG);
    return APR_SUCCESS;
}

apr_size_t ws_shmalloc_alloc(void *base, ws_shmalloc_t *a, apr_size_t size)
{
    apr_size_t need, b = 0, have;
    unsigned c;

    if (size > a->end - a->start) {
        return 0; /* also keeps the rounding below from wrapping */
    }
    need = (size + 7) / 8 * 8 + 2 * TAG;
    need = need < MIN_BLOCK ? MIN_BLOCK : need;
    /* good fit: first fit in the class of the request (its blocks may be
     * smaller), then the first block of any larger class fits */
    for (c = size_class(need); c < WS_SHMALLOC_CLASSES && !b; c++) {
        for (b = a->free_lists[c]; b; b = (apr_size_t)*NEXT(base, b)) {
            if (SIZE(*AT(base, b)) >= need) {
                break;
            }
        }
    }
    if (!b) {
        return 0;
    }
    list_remove(base, a, b);
    have = SIZE(*AT(base, b));
    if (have - need >= MIN_BLOCK) {
        /* the rest stays free; its right neighbour is in use, since free
         * blocks never touch */
        set_tags(base, b + need, have - need, 0);
        list_insert(base, a, b + need);
        have = need;
    }
    set_tags(base, b, have, 1);
    a->in_use += have;
    a->blocks++;
    return b + TAG;
}

void ws_shmalloc_free(void *base, ws_shmalloc_t *a, apr_size_t off)
{
    apr_size_t b, size;
    tag_t t;

    if (!off) {
        return;
    }
    b = off - TAG;
    size = SIZE(*AT(base, b));
    a->in_use -= size;
    a->blocks--;
    t = *AT(base, b - TAG); /* the left neighbour's footer */
    if (!(t & USED)) {
        b -= SIZE(t);
        size += SIZE(t);
        list_remove(base, a, b);
    }
    t = *AT(base, b + size); /* the right neighbour's header */
    if (!(t & USED)) {
        list_remove(base, a, b + size);
        size += SIZE(t);
    }
    set_tags(base, b, size, 0);
    list_insert(base, a, b);
}

apr_size_t ws_shmalloc_size(const void *base, apr_size_t off)
{
    return SIZE(*CAT(base, off - TAG)) - 2 * TAG;
}

apr_size_t ws_shmalloc_largest(const void *base, const ws_shmalloc_t *a)
{
    apr_size_t b, best = 0;
    int c;

    for (c = WS_SHMALLOC_CLASSES - 1; c >= 0 && !best; c--) {
        for (b = a->free_lists[c]; b; b = (apr_size_t)*CAT(base, b + TAG)) {
            if (SIZE(*CAT(base, b)) > best) {
                best = SIZE(*CAT(base, b));
            }
        }
    }
    return best ? best - 2 * TAG : 0;
}

/* Walks the free list of class @p c: every member free, of that class,
 * inside the arena, linked both ways.  Adds their number to *n, at most
 * @p limit so that a cycle cannot loop forever. */
static int check_list(const void *base, const ws_shmalloc_t *a, unsigned c,
                      apr_size_t limit, apr_size_t *n)
{
    apr_size_t b, prev = 0;
    tag_t t;

    for (b = a->free_lists[c]; b; b = (apr_size_t)*CAT(base, b + TAG)) {
        if (b < a->start + TAG || b >= a->end - TAG || b % 8
            || ++*n > limit) {
            return 0;
        }
        t = *CAT(base, b);
        if ((t & USED) || size_class(SIZE(t)) != c
            || *CAT(base, b + 2 * TAG) != prev) {
            return 0;
        }
        prev = b;
    }
    return 1;
}

apr_status_t ws_shmalloc_check(const void *base, const ws_shmalloc_t *a)
{
    apr_size_t b, size, used = 0, blocks = 0, nfree = 0, listed = 0;
    int prev_free = 0;
    unsigned c;
    tag_t t;

    if (a->start % 8 || a->end % 8 || a->end < a->start + 2 * TAG + MIN_BLOCK
        || *CAT(base, a->start) != USED || *CAT(base, a->end - TAG) != USED) {
        return APR_EGENERAL;
    }
    for (b = a->start + TAG; b < a->end - TAG; b += size) {
        t = *CAT(base, b);
        size = SIZE(t);
        if (size < MIN_BLOCK || size > a->end - TAG - b
            || *CAT(base, b + size - TAG) != t
            || (prev_free && !(t & USED))) {
            return APR_EGENERAL;
        }
        prev_free = !(t & USED);
        if (prev_free) {
            nfree++;
        }
        else {
            used += size;
            blocks++;
        }
    }
    if (b != a->end - TAG || used != a->in_use || blocks != a->blocks) {
        return APR_EGENERAL;
    }
    for (c = 0; c < WS_SHMALLOC_CLASSES; c++) {
        if (!check_list(base, a, c, nfree, &listed)) {
            return APR_EGENERAL;
        }
    }
    return listed == nfree ? APR_SUCCESS : APR_EGENERAL;
}

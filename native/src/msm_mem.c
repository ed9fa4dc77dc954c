/*
 * msm_mem.c -- the sim's guest memory: 2 MiB extents, pages backed lazily on
 * first write, every backed page zeroed when its extent is freed, freed
 * extents reused last-in first-out (so a test can see that the next domain
 * gets the very same pages, and that they are clean).
 */
#include <stdlib.h>

#include "msm_sim.h"

#define PAGES_PER_EXTENT (MSM_EXTENT_KB * 1024u / MSM_PAGE_SIZE)

int msm_mem_init(msm_sim *s)
{
    s->n_ext = (uint32_t)(s->cfg.host_mem_kb / MSM_EXTENT_KB);
    s->ext_pages = calloc(s->n_ext, sizeof *s->ext_pages);
    s->ext_free = malloc((size_t)s->n_ext * sizeof *s->ext_free);
    if (!s->ext_pages || !s->ext_free)
        return MSM_ENOMEM;
    /* Stack top is extent 0, so allocation starts at the bottom of "RAM". */
    for (uint32_t i = 0; i < s->n_ext; i++)
        s->ext_free[i] = s->n_ext - 1 - i;
    s->n_ext_free = s->n_ext;
    return MSM_OK;
}

void msm_mem_free_all(msm_sim *s)
{
    if (s->ext_pages) {
        for (uint32_t e = 0; e < s->n_ext; e++) {
            if (!s->ext_pages[e])
                continue;
            for (uint32_t p = 0; p < PAGES_PER_EXTENT; p++)
                free(s->ext_pages[e][p]);
            free(s->ext_pages[e]);
        }
    }
    free(s->ext_pages);
    free(s->ext_free);
    s->ext_pages = NULL;
    s->ext_free = NULL;
}

int msm_mem_alloc(msm_sim *s, msm_dom *d, uint32_t n)
{
    if (n > s->n_ext_free)
        return MSM_ENOSPC;
    uint32_t *ext = malloc((size_t)n * sizeof *ext);
    if (!ext)
        return MSM_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        ext[i] = s->ext_free[--s->n_ext_free];
    d->extents = ext;
    d->n_extents = n;
    return MSM_OK;
}

void msm_mem_release(msm_sim *s, msm_dom *d)
{
    for (uint32_t i = 0; i < d->n_extents; i++) {
        uint32_t e = d->extents[i];
        uint8_t **pages = s->ext_pages[e];
        if (pages) {
            for (uint32_t p = 0; p < PAGES_PER_EXTENT; p++) {
                if (pages[p]) {
                    memset(pages[p], 0, MSM_PAGE_SIZE);
                    s->pages_scrubbed++;
                }
            }
        }
    }
    /* Pushed in reverse so the next allocation gets them back in the same order. */
    for (uint32_t i = d->n_extents; i-- > 0;)
        s->ext_free[s->n_ext_free++] = d->extents[i];
    free(d->extents);
    d->extents = NULL;
    d->n_extents = 0;
}

static int range(msm_ctx *ctx, uint32_t domid, uint64_t off, size_t len, msm_dom **out)
{
    msm_dom *d = msm_sim_dom(ctx->sim, domid);
    if (!d)
        return msm_fail(ctx, MSM_ENOENT, "no domain %u", domid);
    uint64_t size = (uint64_t)d->n_extents * MSM_EXTENT_KB * 1024u;
    if (off > size || len > size - off)
        return msm_fail(ctx, MSM_ERANGE, "range %llu+%zu outside the domain's %llu bytes",
                        (unsigned long long)off, len, (unsigned long long)size);
    *out = d;
    return MSM_OK;
}

int msm_sim_domain_write(msm_ctx *ctx, uint32_t domid, uint64_t off, const void *buf,
                         size_t len)
{
    msm_sim *s = ctx->sim;
    msm_dom *d;
    int rc = range(ctx, domid, off, len, &d);
    if (rc)
        return rc;
    const uint8_t *src = buf;
    while (len) {
        uint64_t page = off / MSM_PAGE_SIZE;
        uint32_t e = d->extents[page / PAGES_PER_EXTENT], p = page % PAGES_PER_EXTENT;
        size_t in = off % MSM_PAGE_SIZE, chunk = MSM_PAGE_SIZE - in;
        if (chunk > len)
            chunk = len;
        if (!s->ext_pages[e] && !(s->ext_pages[e] = calloc(PAGES_PER_EXTENT, sizeof(uint8_t *))))
            return msm_fail(ctx, MSM_ENOMEM, "out of memory");
        if (!s->ext_pages[e][p] && !(s->ext_pages[e][p] = calloc(1, MSM_PAGE_SIZE)))
            return msm_fail(ctx, MSM_ENOMEM, "out of memory");
        memcpy(s->ext_pages[e][p] + in, src, chunk);
        src += chunk;
        off += chunk;
        len -= chunk;
    }
    return MSM_OK;
}

int msm_sim_domain_read(msm_ctx *ctx, uint32_t domid, uint64_t off, void *buf, size_t len)
{
    msm_sim *s = ctx->sim;
    msm_dom *d;
    int rc = range(ctx, domid, off, len, &d);
    if (rc)
        return rc;
    uint8_t *dst = buf;
    while (len) {
        uint64_t page = off / MSM_PAGE_SIZE;
        uint32_t e = d->extents[page / PAGES_PER_EXTENT], p = page % PAGES_PER_EXTENT;
        size_t in = off % MSM_PAGE_SIZE, chunk = MSM_PAGE_SIZE - in;
        if (chunk > len)
            chunk = len;
        if (s->ext_pages[e] && s->ext_pages[e][p])
            memcpy(dst, s->ext_pages[e][p] + in, chunk);
        else
            memset(dst, 0, chunk);
        dst += chunk;
        off += chunk;
        len -= chunk;
    }
    return MSM_OK;
}

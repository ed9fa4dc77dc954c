/* msm_enforce.c -- sim enforcement: hypercalls, channels, violation ring, devices. */
#include <stdlib.h>

#include "msm_sim.h"

MSM_NOINLINE void msm_sim_violation(msm_sim *s, msm_dom *d, uint32_t kind, uint32_t nr,
                                    uint32_t subop, uint32_t peer, uint64_t now_ns)
{
    d->violations++;
    uint64_t cap = s->cfg.ring_capacity;
    if (s->ring_tail - s->ring_head >= cap) {
        /* The guest path never waits for the reader: the newest record is lost. */
        s->ring_dropped++;
        s->ring_dropped_since_drain++;
    } else {
        msm_violation *v = &s->ring[s->ring_tail & (cap - 1)];
        v->ts_ns = now_ns;
        v->domid = d->domid;
        v->kind = kind;
        v->seclabel = d->sl_uuid;
        v->nr = nr;
        v->subop = subop;
        v->peer = peer;
        v->count = d->violations > UINT32_MAX ? UINT32_MAX : (uint32_t)d->violations;
        s->ring_tail++;
    }
    if (d->max_violations && d->violations >= d->max_violations && !d->stopped) {
        d->stopped = 1;
        d->state = MSM_STATE_PAUSED;
        s->stopped_total++;
    }
}

static int live(msm_ctx *ctx, uint32_t domid, msm_dom **out)
{
    *out = msm_sim_dom(ctx->sim, domid);
    if (!*out)
        return msm_fail(ctx, MSM_ENOENT, "no domain %u", domid);
    return MSM_OK;
}

int msm_sim_check_hypercall(msm_ctx *ctx, uint32_t domid, uint32_t nr, uint32_t subop,
                            uint64_t now_ns, uint32_t *decision)
{
    msm_dom *d;
    if (live(ctx, domid, &d))
        return MSM_ENOENT;
    if (d->state != MSM_STATE_RUNNING)
        return msm_fail(ctx, MSM_ESTATE, "domain %u is not running", domid);
    if (domid == 0) {
        *decision = MSM_ALLOW;
        return MSM_OK;
    }
    *decision = msm_sim_hypercall(ctx->sim, d, nr, subop, now_ns);
    return MSM_OK;
}

/* The label-level half of the channel rule (interface 1.3): an end may hold a channel
 * only when its SecLabel's profile allows event_channel_op (hypercall 32), whatever the
 * channel's kind.  dom0 is unlabelled and privileged: its own end always passes (its
 * peer's end is still checked, so a domain without event_channel_op has no channel at
 * all, not even with dom0). */
static inline int channel_end_ok(const msm_dom *d)
{
#if defined(MSM_TEST_INJECT_BUG) && (MSM_TEST_INJECT_BUG & 16)
    /* Test build only (tests/native/test_soak.py): the label-level rule is gone. */
    (void)d;
    return 1;
#else
    return d->domid == 0 || (d->prof && ((d->prof->hypercalls >> MSM_HC_EVENT_CHANNEL_OP) & 1u));
#endif
}

uint32_t msm_sim_channel(msm_sim *s, uint32_t kind, msm_dom *src, msm_dom *dst,
                         uint64_t now_ns)
{
    s->ch_checked++;
    /* The tag rule: dom0, one tag, or a SECURITY-role end outside no-communication sets. */
    int by_tag = src->domid == 0 || dst->domid == 0 || src->tag == dst->tag;
    if (!by_tag && (src->role == MSM_ROLE_SECURITY || dst->role == MSM_ROLE_SECURITY) &&
#if defined(MSM_TEST_INJECT_BUG) && (MSM_TEST_INJECT_BUG & 1)
        /* Test build only (tests/native/test_soak.py): the no-communication rule flipped. */
        msm_tags_share_set(&s->active, &s->res, s->res.ncm_off, s->res.ncm_list, src->tag,
                           dst->tag))
#else
        !msm_tags_share_set(&s->active, &s->res, s->res.ncm_off, s->res.ncm_list, src->tag,
                            dst->tag))
#endif
        by_tag = 1;
    /* And the label rule: both ends' profiles allow event_channel_op. */
    if (by_tag && channel_end_ok(src) && channel_end_ok(dst))
        return MSM_ALLOW;
    s->ch_denied++;
    msm_sim_violation(s, src, MSM_VIOL_CHANNEL,
                      kind == MSM_CHAN_EVTCHN ? MSM_HC_EVENT_CHANNEL_OP : MSM_HC_GRANT_TABLE_OP,
                      0, dst->domid, now_ns);
    return MSM_DENY_CHANNEL;
}

int msm_sim_check_channel(msm_ctx *ctx, uint32_t kind, uint32_t src, uint32_t dst,
                          uint64_t now_ns, uint32_t *decision)
{
    msm_dom *a, *b;
    if (live(ctx, src, &a) || live(ctx, dst, &b))
        return MSM_ENOENT;
    if (a->state != MSM_STATE_RUNNING)
        return msm_fail(ctx, MSM_ESTATE, "domain %u is not running", src);
    *decision = msm_sim_channel(ctx->sim, kind, a, b, now_ns);
    return MSM_OK;
}

int msm_sim_ring_drain(msm_ctx *ctx, msm_violation *out, uint32_t max, uint32_t *n,
                       uint64_t *dropped)
{
    msm_sim *s = ctx->sim;
    uint64_t cap = s->cfg.ring_capacity, used = s->ring_tail - s->ring_head;
    uint32_t k = used < max ? (uint32_t)used : max;
    for (uint32_t i = 0; i < k; i++)
        out[i] = s->ring[(s->ring_head + i) & (cap - 1)];
    s->ring_head += k;
    *n = k;
    if (dropped)
        *dropped = s->ring_dropped_since_drain;
    s->ring_dropped_since_drain = 0;
    return MSM_OK;
}

int msm_sim_reset_violations(msm_ctx *ctx, uint32_t domid)
{
    msm_dom *d;
    if (live(ctx, domid, &d))
        return MSM_ENOENT;
    d->violations = 0;
    d->stopped = 0;
    return MSM_OK;
}

static int64_t assign_find(const msm_sim *s, uint32_t bdf, uint32_t *ins)
{
    uint32_t lo = 0, hi = s->n_assigned;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->assigned[mid].bdf == bdf) {
            *ins = mid;
            return mid;
        }
        if (s->assigned[mid].bdf < bdf)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ins = lo;
    return -1;
}

int msm_sim_device_assign(msm_ctx *ctx, uint32_t domid, uint32_t bdf)
{
    msm_sim *s = ctx->sim;
    msm_dom *d;
    if (live(ctx, domid, &d))
        return MSM_ENOENT;
    int64_t dv = msm_tbl_find(&s->active.t[MSM_OBJ_DEVICE], NULL, bdf, NULL);
    if (dv < 0)
        return msm_fail(ctx, MSM_ENOENT, "device 0x%x is not in the policy", bdf);
    uint32_t ins;
    if (assign_find(s, bdf, &ins) >= 0)
        return msm_fail(ctx, MSM_EBUSY, "device 0x%x is already assigned to domain %u", bdf,
                        s->assigned[ins].domid);
    const msm_device *dev = msm_tbl_at(&s->active.t[MSM_OBJ_DEVICE], (uint32_t)dv);
#if defined(MSM_TEST_INJECT_BUG) && (MSM_TEST_INJECT_BUG & 8)
    if (!dev) /* Test build only (tests/native/test_soak.py): the tag check is gone. */
#else
    if (d->domid == 0 || memcmp(&dev->tag, &d->tag_uuid, sizeof(msm_uuid)) != 0)
#endif
        return msm_fail(ctx, MSM_EDENIED, "device 0x%x: its tag differs from domain %u's", bdf,
                        domid);
    /* At most MSM_MAX_DEVICES devices exist, so the array never grows past that. */
    memmove(&s->assigned[ins + 1], &s->assigned[ins],
            (size_t)(s->n_assigned - ins) * sizeof *s->assigned);
    s->assigned[ins].bdf = bdf;
    s->assigned[ins].domid = domid;
    s->n_assigned++;
    return MSM_OK;
}

int msm_sim_device_release(msm_ctx *ctx, uint32_t domid, uint32_t bdf)
{
    msm_sim *s = ctx->sim;
    msm_dom *d;
    if (live(ctx, domid, &d))
        return MSM_ENOENT;
    uint32_t at;
    if (assign_find(s, bdf, &at) < 0 || s->assigned[at].domid != domid)
        return msm_fail(ctx, MSM_ENOENT, "device 0x%x is not assigned to domain %u", bdf, domid);
    memmove(&s->assigned[at], &s->assigned[at + 1],
            (size_t)(s->n_assigned - at - 1) * sizeof *s->assigned);
    s->n_assigned--;
    return MSM_OK;
}

void msm_sim_release_devices(msm_sim *s, uint32_t domid)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->n_assigned; i++)
        if (s->assigned[i].domid != domid)
            s->assigned[w++] = s->assigned[i];
    s->n_assigned = w;
}

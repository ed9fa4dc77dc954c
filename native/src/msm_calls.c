/*
 * msm_calls.c -- allowed-call counters of the sim: per domain, per (hypercall,
 * sub-op), per minute.  A domain holds only its current minute: one counter per
 * entry of its workload mix (the hot loop adds to them by entry index, no lookup)
 * and a small open-addressed table for every other allowed call.  Counts move to
 * a bounded ring of msm_call_count records, drained like the violation ring.
 */
#include "msm_sim.h"

static void push(msm_sim *s, const msm_dom *d, uint32_t nr, uint32_t subop, uint32_t count)
{
    if (!count)
        return;
    if (s->calls_tail - s->calls_head >= MSM_CALLS_RING) {
        s->calls_dropped_since_drain += count;
        return;
    }
    msm_call_count *r = &s->calls[s->calls_tail & (MSM_CALLS_RING - 1)];
    r->minute_ns = (d->calls_minute - 1) * MSM_MINUTE_NS;
    r->domid = d->domid;
    r->nr = nr;
    r->subop = subop;
    r->count = count;
    r->domain = d->uuid;
    s->calls_tail++;
}

void msm_calls_flush(msm_sim *s, msm_dom *d)
{
    if (!d->calls_minute)
        return;
    uint32_t m = (d->guest_type - 1) * 2 + (d->os - 1);
    for (uint32_t i = 0; i < MSM_MIX_ENTRIES; i++) {
        if (!d->calls_mix[i])
            continue;
        uint32_t nr, subop;
        if (msm_workload_mix_entry(m, i, &nr, &subop))
            push(s, d, nr, msm_hypercall_has_subops(nr) ? subop : 0, d->calls_mix[i]);
        d->calls_mix[i] = 0;
    }
    if (d->calls_n_other) {
        for (uint32_t i = 0; i < MSM_CALLS_OTHER; i++) {
            if (d->calls_key[i] == MSM_CALLS_FREE)
                continue;
            uint32_t k = d->calls_key[i] - 1u;
            push(s, d, k >> 8, k & 0xFFu, d->calls_cnt[i]);
            d->calls_key[i] = MSM_CALLS_FREE;
            d->calls_cnt[i] = 0;
        }
        d->calls_n_other = 0;
    }
}

void msm_calls_count(msm_sim *s, msm_dom *d, uint32_t nr, uint32_t subop, uint64_t now_ns)
{
    uint64_t minute = now_ns / MSM_MINUTE_NS + 1;
    msm_calls_roll(s, d, minute);
    if (!msm_hypercall_has_subops(nr))
        subop = 0;
    /* key 0 marks a free slot (a new domain's table is zeroed), so keys are + 1 */
    uint16_t key = (uint16_t)((nr << 8 | (subop & 0xFFu)) + 1u);
    for (;;) {
        uint32_t h = ((uint32_t)key * 0x9E37u >> 4) & (MSM_CALLS_OTHER - 1);
        for (uint32_t probe = 0; probe < MSM_CALLS_OTHER; probe++) {
            uint32_t i = (h + probe) & (MSM_CALLS_OTHER - 1);
            if (d->calls_key[i] == key) {
                if (d->calls_cnt[i] == UINT32_MAX) {
                    push(s, d, nr, subop, d->calls_cnt[i]);
                    d->calls_cnt[i] = 0;
                }
                d->calls_cnt[i]++;
                return;
            }
            if (d->calls_key[i] == MSM_CALLS_FREE) {
                if (d->calls_n_other * 4 >= MSM_CALLS_OTHER * 3)
                    break; /* three quarters full: move the minute out, start afresh */
                d->calls_key[i] = key;
                d->calls_cnt[i] = 1;
                d->calls_n_other++;
                return;
            }
        }
        msm_calls_flush(s, d);
    }
}

int msm_sim_calls_drain(msm_ctx *ctx, msm_call_count *out, uint32_t max, uint32_t *n,
                        uint64_t *dropped)
{
    msm_sim *s = ctx->sim;
    for (uint32_t i = 0; i < s->n_live; i++)
        msm_calls_flush(s, &s->doms[s->order[i]]);
    uint64_t used = s->calls_tail - s->calls_head;
    uint32_t k = used < max ? (uint32_t)used : max;
    for (uint32_t i = 0; i < k; i++)
        out[i] = s->calls[(s->calls_head + i) & (MSM_CALLS_RING - 1)];
    s->calls_head += k;
    *n = k;
    if (dropped)
        *dropped = s->calls_dropped_since_drain;
    s->calls_dropped_since_drain = 0;
    return MSM_OK;
}

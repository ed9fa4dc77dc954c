/* msm_sim.h -- private state of the sim backend and its hot decision path. */
#ifndef XENON_MSM_SIM_H
#define XENON_MSM_SIM_H

#include "msm_internal.h"

#define MSM_MIX_ENTRIES 32         /* distinct calls of one workload mix, at most   */
#define MSM_CALLS_FREE 0u          /* an empty calls_key slot (keys are stored + 1)  */
#define MSM_MINUTE_NS 60000000000ull

/* Per-domain state.  The first cache line holds what a decision touches. */
typedef struct msm_dom {
    /* hot */
    const msm_profile *prof;   /* resolved at commit/create; NULL for dom0        */
    uint64_t window;           /* now_ns / 1e6 of the previous call               */
    uint64_t wcount;           /* calls in that window                            */
    uint32_t max_rate;
    uint32_t state;            /* msm_run_state                                   */
    uint64_t hypercalls;
    uint64_t violations;
    uint32_t max_violations;
    uint32_t domid;
    int32_t tag;               /* tag index in the active policy, -1 for dom0     */
    int32_t seclabel;          /* seclabel index, -1 for dom0                     */
    uint32_t role;
    uint32_t stopped;          /* stopped_by_msm                                  */
    /* cold */
    msm_uuid uuid;
    msm_uuid sl_uuid, tag_uuid;
    char name[MSM_NAME_LEN];
    uint32_t guest_type, os, vcpus, max_vcpus, load_permille;
    uint32_t shutdown_reason;
    uint64_t maxmem_kb;
    uint64_t cpu_ns, created_ns;
    uint32_t *extents;         /* extent indices of its memory                    */
    uint32_t n_extents;
    uint32_t mis[4];           /* per_million per msm_misbehaviour kind           */
    uint64_t mis_cum[4];       /* cumulative thresholds scaled to 2^32; [3] total */
    uint64_t rate_acc;         /* fractional calls carried between slices         */
    uint64_t burst_window;     /* window of the last rate burst (+1, 0 = none)    */
    /* allowed-call counters of the current minute (msm_calls.c) */
    uint64_t calls_minute;     /* now_ns / 60e9 + 1 of the counts held, 0 = none  */
    uint32_t calls_mix[MSM_MIX_ENTRIES]; /* per entry of its workload mix         */
    uint16_t calls_key[MSM_CALLS_OTHER]; /* (nr << 8 | subop) + 1; 0 = empty     */
    uint32_t calls_cnt[MSM_CALLS_OTHER];
    uint32_t calls_n_other;
} msm_dom;

typedef struct msm_assign {
    uint32_t bdf;
    uint32_t domid;
} msm_assign;

typedef struct msm_sim {
    msm_sim_config cfg;
    uint64_t now_ns;
    uint64_t rng[4];           /* xoshiro256** state                              */
    /* policy */
    msm_policy active;
    msm_resolved res;
    uint64_t generation;
    msm_policy staged;
    int txn_open;
    uint32_t *running, *aggregate; /* Chinese Wall, per tag of the active policy  */
    /* domains */
    msm_dom *doms;             /* MSM_MAX_DOMAINS slots                           */
    int16_t *slot_of;          /* domid -> slot, -1 when free                     */
    uint16_t *order;           /* live slots sorted by domid                      */
    uint32_t n_live;
    uint16_t *free_slots;
    uint32_t n_free_slots;
    uint32_t next_domid;
    /* memory */
    uint8_t ***ext_pages;      /* per extent: NULL or 512 page pointers           */
    uint32_t *ext_free;        /* LIFO stack of free extents                      */
    uint32_t n_ext, n_ext_free;
    uint64_t pages_scrubbed;
    /* devices */
    msm_assign *assigned;      /* sorted by bdf                                   */
    uint32_t n_assigned;
    /* ring */
    msm_violation *ring;
    uint64_t ring_head, ring_tail; /* tail - head = used                          */
    uint64_t ring_dropped, ring_dropped_since_drain;
    /* allowed-call count records (msm_calls.c) */
    msm_call_count *calls;     /* MSM_CALLS_RING slots                            */
    uint64_t calls_head, calls_tail;
    uint64_t calls_dropped_since_drain;  /* calls lost to a full ring             */
    /* counters */
    uint64_t hc_checked, hc_denied, ch_checked, ch_denied;
    uint64_t stopped_total;
} msm_sim;

extern const msm_backend_ops msm_sim_ops;

/* Domain lookup: NULL when domid is not live. */
static inline msm_dom *msm_sim_dom(msm_sim *s, uint32_t domid)
{
    if (domid > MSM_DOMID_MAX || s->slot_of[domid] < 0)
        return NULL;
    return &s->doms[s->slot_of[domid]];
}

/* 1 when profile `p` allows (nr, subop), 0 otherwise; requires nr < MSM_NR_HYPERCALLS
 * and subop < MSM_SUBOP_BITS.  Branch-free: the sub-op bit is read for every hypercall
 * (rows of hypercalls without sub-ops are in bounds) and ORed with "nr has no sub-op
 * row", so a random mix of calls with and without sub-ops costs no mispredicted branch. */
static inline uint64_t msm_profile_allows(const msm_profile *p, uint32_t nr, uint32_t subop)
{
    uint64_t sub = p->subops[nr][subop >> 6] >> (subop & 63u);
    uint64_t no_row = ~MSM_SUBOP_MASK >> nr;
    return (p->hypercalls >> nr) & (sub | no_row) & 1u;
}

/* The profile step of a decision for any (nr, subop): MSM_ALLOW or MSM_DENY_PROFILE.  A
 * hypercall number past the table is denied; a sub-op past the bitmap is denied for a
 * hypercall with sub-ops and ignored for one without. */
static inline uint32_t msm_profile_decision(const msm_profile *p, uint32_t nr, uint32_t subop)
{
    if (MSM_UNLIKELY(nr >= MSM_NR_HYPERCALLS))
        return MSM_DENY_PROFILE;
    if (MSM_UNLIKELY(subop >= MSM_SUBOP_BITS))
        return ((p->hypercalls >> nr) & (~MSM_SUBOP_MASK >> nr) & 1u) ? MSM_ALLOW
                                                                       : MSM_DENY_PROFILE;
    return msm_profile_allows(p, nr, subop) ? MSM_ALLOW : MSM_DENY_PROFILE;
}

/* The decision of msm_check_hypercall steps 1-4, without side effects beyond
 * the window counter.  Shared with the workload loop's cold paths (the loop itself
 * runs the same steps with its window hoisted to the slice, msm_workload.c). */
static inline uint32_t msm_decide(msm_dom *d, uint32_t nr, uint32_t subop, uint64_t now_ns)
{
    uint64_t w = now_ns / 1000000u;
    if (w > d->window) {
        d->window = w;
        d->wcount = 0;
    }
    d->wcount++;
    if (msm_profile_decision(d->prof, nr, subop) != MSM_ALLOW)
        return MSM_DENY_PROFILE;
    if (d->wcount > d->max_rate)
        return MSM_DENY_RATE;
    return MSM_ALLOW;
}

/* Allowed-call counters (msm_calls.c).  msm_calls_count counts one allowed call
 * (nr < 64) outside the workload's hot loop; msm_calls_roll moves a domain's counts
 * to the ring when `minute` (now_ns / 60e9 + 1) is not the one it holds; msm_calls_flush
 * moves them unconditionally (destroy, drain). */
void msm_calls_count(msm_sim *s, msm_dom *d, uint32_t nr, uint32_t subop, uint64_t now_ns);
void msm_calls_flush(msm_sim *s, msm_dom *d);
static inline void msm_calls_roll(msm_sim *s, msm_dom *d, uint64_t minute)
{
    if (MSM_UNLIKELY(d->calls_minute != minute)) {
        msm_calls_flush(s, d);
        d->calls_minute = minute;
    }
}
int msm_sim_calls_drain(msm_ctx *ctx, msm_call_count *out, uint32_t max, uint32_t *n,
                        uint64_t *dropped);
/* The (nr, subop) of entry i of workload mix m ((guest_type - 1) * 2 + os - 1);
 * 0 when there is no such entry (msm_workload.c). */
int msm_workload_mix_entry(uint32_t m, uint32_t i, uint32_t *nr, uint32_t *subop);

/* Records a violation of `d` (count, ring, stop at max). */
void msm_sim_violation(msm_sim *s, msm_dom *d, uint32_t kind, uint32_t nr, uint32_t subop,
                       uint32_t peer, uint64_t now_ns);

/* One full hypercall check of a running non-dom0 domain (counters included). */
static inline uint32_t msm_sim_hypercall(msm_sim *s, msm_dom *d, uint32_t nr, uint32_t subop,
                                         uint64_t now_ns)
{
    uint32_t dec = msm_decide(d, nr, subop, now_ns);
    d->hypercalls++;
    s->hc_checked++;
    if (MSM_UNLIKELY(dec != MSM_ALLOW)) {
        s->hc_denied++;
        msm_sim_violation(s, d, dec == MSM_DENY_PROFILE ? MSM_VIOL_PROFILE : MSM_VIOL_RATE, nr,
                          msm_hypercall_has_subops(nr) ? subop : 0, MSM_DOMID_INVALID, now_ns);
    } else {
        msm_calls_count(s, d, nr, subop, now_ns);
    }
    return dec;
}

/* Channel decision between two live domains (counters and violation included). */
uint32_t msm_sim_channel(msm_sim *s, uint32_t kind, msm_dom *src, msm_dom *dst,
                         uint64_t now_ns);

/* Policy/transaction operations of the sim (msm_sim_policy.c). */
int msm_sim_txn_begin(msm_ctx *ctx, uint32_t flags);
int msm_sim_txn_put(msm_ctx *ctx, uint32_t type, const void *obj, size_t size);
int msm_sim_txn_delete(msm_ctx *ctx, uint32_t type, const msm_uuid *id, uint32_t bdf);
int msm_sim_txn_commit(msm_ctx *ctx, msm_commit_error *err);
int msm_sim_txn_abort(msm_ctx *ctx);
int msm_sim_policy_get(msm_ctx *ctx, uint32_t type, uint32_t index, void *out, size_t size);

/* Enforcement operations (msm_enforce.c). */
int msm_sim_check_hypercall(msm_ctx *ctx, uint32_t domid, uint32_t nr, uint32_t subop,
                            uint64_t now_ns, uint32_t *decision);
int msm_sim_check_channel(msm_ctx *ctx, uint32_t kind, uint32_t src, uint32_t dst,
                          uint64_t now_ns, uint32_t *decision);
int msm_sim_ring_drain(msm_ctx *ctx, msm_violation *out, uint32_t max, uint32_t *n,
                       uint64_t *dropped);
int msm_sim_reset_violations(msm_ctx *ctx, uint32_t domid);
int msm_sim_device_assign(msm_ctx *ctx, uint32_t domid, uint32_t bdf);
int msm_sim_device_release(msm_ctx *ctx, uint32_t domid, uint32_t bdf);
void msm_sim_release_devices(msm_sim *s, uint32_t domid);

/* Memory (msm_mem.c). */
int msm_mem_init(msm_sim *s);
void msm_mem_free_all(msm_sim *s);
int msm_mem_alloc(msm_sim *s, msm_dom *d, uint32_t n_extents);
void msm_mem_release(msm_sim *s, msm_dom *d);
int msm_sim_domain_write(msm_ctx *ctx, uint32_t domid, uint64_t off, const void *buf,
                         size_t len);
int msm_sim_domain_read(msm_ctx *ctx, uint32_t domid, uint64_t off, void *buf, size_t len);

/* Workload (msm_workload.c). */
void msm_rng_seed(uint64_t s[4], uint64_t seed); /* splitmix64 -> xoshiro256** state */

static inline uint64_t msm_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: the workload's generator, shared with the bench floor (msm_bench.c)
 * so that both loops pay for the same stream. */
static inline uint64_t msm_rng_next(uint64_t s[4])
{
    uint64_t r = msm_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = msm_rotl(s[3], 45);
    return r;
}

int msm_sim_set_misbehaviour_op(msm_ctx *ctx, uint32_t domid, uint32_t kind,
                                uint32_t per_million);
int msm_sim_run_op(msm_ctx *ctx, uint64_t duration_ns, msm_run_counts *out);

/* Resolves a domain's SecLabel under the active policy; 0 when unbound. */
int msm_sim_bind(msm_sim *s, const msm_uuid *uuid, int32_t *sl, int32_t *tag);
void msm_sim_apply_label(msm_sim *s, msm_dom *d, int32_t sl);

#endif /* XENON_MSM_SIM_H */

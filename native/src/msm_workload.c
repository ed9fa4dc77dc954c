/*
 * msm_workload.c -- the sim's seeded guest workload: per guest type and OS a
 * hypercall mix, issued at a rate proportional to vCPUs and load, through the
 * same decision path as msm_check_hypercall.
 *
 * Mixes (weight of 1024 per call; sub-op numbers from Xen's public headers):
 *
 *  PV Linux, 10000 calls/s per vCPU at full load
 *    mmu_update 110, update_va_mapping 100, multicall 80, iret 70,
 *    stack_switch 60, set_timer_op 40, fpu_taskswitch 30, set_segment_base 20,
 *    update_descriptor 10, xen_version 8, console_io 2,
 *    mmuext_op new_baseptr(5) 50 tlb_flush_local(6) 30 invlpg_local(7) 30
 *      pin_l1_table(0) 8 unpin_table(4) 8,
 *    sched_op yield(0) 30 block(1) 40, event_channel_op send(4) 100 unmask(9) 15,
 *    grant_table_op map(0) 20 unmap(1) 20 copy(5) 20,
 *    memory_op increase(0) 4 decrease(1) 4 populate_physmap(6) 4,
 *    vcpu_op set_singleshot_timer(8) 35 stop_singleshot_timer(9) 5,
 *    physdev_op eoi(12) 15, callback_op register(0) 1
 *  PVH Linux, 5000/s: sched_op yield 60 block 100, event_channel_op send 220
 *    unmask 30, grant_table_op map 40 unmap 40 copy 40, memory_op increase 10
 *    decrease 10 populate 10 add_to_physmap(7) 4, vcpu_op singleshot 140 stop 20
 *    runstate(4) 10, hvm_op set_param(0) 6 get_param(1) 20, physdev_op eoi 40,
 *    xen_version 10, console_io 2
 *  PVHVM Linux, 4000/s: sched_op yield 60 block 110, event_channel_op send 220
 *    unmask 20, grant_table_op map 50 unmap 50 copy 40, memory_op increase 8
 *    decrease 8 add_to_physmap 6, vcpu_op singleshot 150 stop 20
 *    register_vcpu_info(10) 2, hvm_op set_param 10 get_param 30 get_time(10) 10,
 *    physdev_op eoi 20, xen_version 8
 *  HVM Linux, 3000/s: hvm_op get_param 80 set_param 20 get_time 60 flush_tlbs(5) 20,
 *    memory_op add_to_physmap 20 current_reservation(3) 10, sched_op yield 120
 *    block 160, event_channel_op send 150 unmask 30, vcpu_op singleshot 150
 *    runstate 40, grant_table_op copy 30 query_size(6) 10, xen_version 10
 *  HVM Windows, 1000/s (few PV calls): hvm_op get_param 150 set_param 40
 *    get_time 100, memory_op add_to_physmap 40 current_reservation 20, sched_op
 *    yield 150 block 120, event_channel_op send 80, vcpu_op singleshot 80
 *    runstate 30, grant_table_op copy 20 query_size 10, xen_version 30
 *  PVHVM Windows (PV drivers), 2000/s: hvm_op get_param 80 set_param 20
 *    get_time 60, memory_op add_to_physmap 20 increase 5 decrease 5, sched_op
 *    yield 100 block 120, event_channel_op send 200 unmask 40, grant_table_op
 *    map 60 unmap 60 copy 60, vcpu_op singleshot 100, xen_version 20
 *  PV and PVH Windows do not exist as kernels; they use the Linux mixes/rates.
 *
 * Weights are scaled to a 1024-entry table per mix; one PRNG draw picks the
 * call.  At these rates a 4-vCPU PV guest at 50 % load issues 20 calls/ms,
 * well under common max_rate values (100..1000 per ms).
 */
#include <pthread.h>
#include <stdlib.h>

#include "msm_sim.h"

typedef struct mix_entry {
    uint8_t nr, subop;
    uint16_t weight;
} mix_entry;

#define END {0, 0, 0}

static const mix_entry mix_pv_linux[] = {
    {1, 0, 110}, {14, 0, 100}, {13, 0, 80}, {23, 0, 70}, {3, 0, 60}, {15, 0, 40}, {5, 0, 30},
    {25, 0, 20}, {10, 0, 10}, {17, 0, 8}, {18, 0, 2}, {26, 5, 50}, {26, 6, 30}, {26, 7, 30},
    {26, 0, 8}, {26, 4, 8}, {29, 0, 30}, {29, 1, 40}, {32, 4, 100}, {32, 9, 15}, {20, 0, 20},
    {20, 1, 20}, {20, 5, 20}, {12, 0, 4}, {12, 1, 4}, {12, 6, 4}, {24, 8, 35}, {24, 9, 5},
    {33, 12, 15}, {30, 0, 1}, END};
static const mix_entry mix_pvh_linux[] = {
    {29, 0, 60}, {29, 1, 100}, {32, 4, 220}, {32, 9, 30}, {20, 0, 40}, {20, 1, 40},
    {20, 5, 40}, {12, 0, 10}, {12, 1, 10}, {12, 6, 10}, {12, 7, 4}, {24, 8, 140}, {24, 9, 20},
    {24, 4, 10}, {34, 0, 6}, {34, 1, 20}, {33, 12, 40}, {17, 0, 10}, {18, 0, 2}, END};
static const mix_entry mix_pvhvm_linux[] = {
    {29, 0, 60}, {29, 1, 110}, {32, 4, 220}, {32, 9, 20}, {20, 0, 50}, {20, 1, 50},
    {20, 5, 40}, {12, 0, 8}, {12, 1, 8}, {12, 7, 6}, {24, 8, 150}, {24, 9, 20}, {24, 10, 2},
    {34, 0, 10}, {34, 1, 30}, {34, 10, 10}, {33, 12, 20}, {17, 0, 8}, END};
static const mix_entry mix_hvm_linux[] = {
    {34, 1, 80}, {34, 0, 20}, {34, 10, 60}, {34, 5, 20}, {12, 7, 20}, {12, 3, 10},
    {29, 0, 120}, {29, 1, 160}, {32, 4, 150}, {32, 9, 30}, {24, 8, 150}, {24, 4, 40},
    {20, 5, 30}, {20, 6, 10}, {17, 0, 10}, END};
static const mix_entry mix_hvm_windows[] = {
    {34, 1, 150}, {34, 0, 40}, {34, 10, 100}, {12, 7, 40}, {12, 3, 20}, {29, 0, 150},
    {29, 1, 120}, {32, 4, 80}, {24, 8, 80}, {24, 4, 30}, {20, 5, 20}, {20, 6, 10},
    {17, 0, 30}, END};
static const mix_entry mix_pvhvm_windows[] = {
    {34, 1, 80}, {34, 0, 20}, {34, 10, 60}, {12, 7, 20}, {12, 0, 5}, {12, 1, 5},
    {29, 0, 100}, {29, 1, 120}, {32, 4, 200}, {32, 9, 40}, {20, 0, 60}, {20, 1, 60},
    {20, 5, 60}, {24, 8, 100}, {17, 0, 20}, END};

/* Index (guest_type - 1) * 2 + (os - 1). */
static const mix_entry *const mixes[8] = {
    mix_pv_linux,    mix_pv_linux,      mix_pvh_linux, mix_pvh_linux,
    mix_pvhvm_linux, mix_pvhvm_windows, mix_hvm_linux, mix_hvm_windows};
static const uint32_t base_rates[8] = {10000, 10000, 5000, 5000, 4000, 2000, 3000, 1000};

/* Calls outside every mix, used for MSM_MIS_OUT_OF_PROFILE. */
static const mix_entry bad_calls[8] = {
    {37, 0, 0}, {36, 1, 0}, {36, 2, 0}, {36, 3, 0}, {35, 1, 0}, {7, 1, 0}, {8, 0, 0}, {22, 0, 0}};

#define MIX_SIZE 1024u
static uint32_t mix_table[8][MIX_SIZE]; /* nr | subop << 8 | entry index << 16 */
static pthread_once_t mix_once = PTHREAD_ONCE_INIT;

static void build_mixes(void)
{
    for (int m = 0; m < 8; m++) {
        const mix_entry *e = mixes[m];
        uint32_t total = 0, n = 0, at = 0;
        for (n = 0; e[n].weight; n++)
            total += e[n].weight;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = e[i].weight * MIX_SIZE / total;
            for (uint32_t j = 0; j < k && at < MIX_SIZE; j++)
                mix_table[m][at++] = (uint32_t)(e[i].nr | e[i].subop << 8 | i << 16);
        }
        /* Rounding leftovers go to the first (most common) call. */
        while (at < MIX_SIZE)
            mix_table[m][at++] = (uint32_t)(e[0].nr | e[0].subop << 8);
    }
}

int msm_workload_mix_entry(uint32_t m, uint32_t i, uint32_t *nr, uint32_t *subop)
{
    if (m >= 8)
        return 0;
    const mix_entry *e = mixes[m];
    for (uint32_t k = 0; k <= i; k++)
        if (!e[k].weight)
            return 0;
    *nr = e[i].nr;
    *subop = e[i].subop;
    return 1;
}

/* ------------------------------------------------------------------- rng */

void msm_rng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++) { /* splitmix64 */
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        s[i] = z ^ (z >> 31);
    }
}

/* --------------------------------------------------------- misbehaviour */

int msm_sim_set_misbehaviour_op(msm_ctx *ctx, uint32_t domid, uint32_t kind,
                                uint32_t per_million)
{
    if (domid == 0)
        return msm_fail(ctx, MSM_EINVAL, "misbehaviour: dom0 runs no workload");
    msm_dom *d = msm_sim_dom(ctx->sim, domid);
    if (!d)
        return msm_fail(ctx, MSM_ENOENT, "no domain %u", domid);
    d->mis[kind] = per_million;
    uint64_t cum = 0;
    for (uint32_t k = 1; k <= 3; k++) {
        cum += ((uint64_t)d->mis[k] << 32) / 1000000u;
        d->mis_cum[k - 1] = cum;
    }
    d->mis_cum[3] = cum;
    return MSM_OK;
}

/* Events are handed to the sink in batches of this many (64 KiB: they stay in L2). */
#define LOG_CAP 2048u

typedef struct run_state {
    msm_ctx *ctx;
    msm_sim *s;
    uint64_t by_dec[3];        /* hypercall decisions only */
    uint64_t channels, denied_channel;
    /* adversary: cumulative thresholds (scaled to 2^32) above a domain's own
     * misbehaviour, in msm_adversary's order: channel, device, call, burst */
    uint64_t adv[4];
    uint64_t lifecycle;        /* threshold per slice, 0 = off */
    uint64_t devices, devices_denied, starts, starts_denied, destroys;
    /* allowed decisions for the sink (NULL: none recorded) */
    msm_event_sink sink;
    void *sink_user;
    msm_event *log;
    uint32_t n_log;
    uint64_t events;
} run_state;

static MSM_NOINLINE void flush(run_state *rs)
{
    if (rs->n_log) {
        rs->sink(rs->sink_user, rs->log, rs->n_log);
        rs->events += rs->n_log;
        rs->n_log = 0;
    }
}

static inline void emit(run_state *rs, uint32_t kind, uint32_t domid, uint32_t a, uint32_t b,
                        const msm_uuid *uuid, uint64_t ts)
{
    if (!rs->sink)
        return;
    msm_event *e = &rs->log[rs->n_log++];
    e->ts_ns = ts;
    e->kind = kind;
    e->domid = domid;
    e->a = a;
    e->b = b;
    if (uuid)
        e->uuid = *uuid;
    else
        memset(&e->uuid, 0, sizeof e->uuid);
    if (rs->n_log == LOG_CAP)
        flush(rs);
}

static inline void hypercall_nr(run_state *rs, msm_dom *d, uint32_t nr, uint32_t subop,
                                uint64_t ts)
{
    uint32_t dec = msm_sim_hypercall(rs->s, d, nr, subop, ts);
    rs->by_dec[dec]++;
    if (dec == MSM_ALLOW)
        emit(rs, MSM_EV_HYPERCALL, d->domid, nr, subop, NULL, ts);
}

static inline void hypercall(run_state *rs, msm_dom *d, uint32_t e, uint64_t ts)
{
    hypercall_nr(rs, d, e & 0xFFu, (e >> 8) & 0xFFu, ts);
}

static void channel(run_state *rs, msm_dom *d, msm_dom *o, uint64_t r, uint64_t ts)
{
    uint32_t kind = (r >> 24) & 1u ? MSM_CHAN_GRANT : MSM_CHAN_EVTCHN;
    rs->channels++;
    if (msm_sim_channel(rs->s, kind, d, o, ts) == MSM_DENY_CHANNEL)
        rs->denied_channel++;
    else
        emit(rs, MSM_EV_CHANNEL, d->domid, kind, o->domid, NULL, ts);
}

static void burst(run_state *rs, msm_dom *d, const uint32_t *mix, uint64_t r, uint64_t ts)
{
    msm_sim *s = rs->s;
    uint64_t w = ts / 1000000u + 1;
    if (d->burst_window == w) { /* one burst per domain per window */
        hypercall(rs, d, mix[r & (MIX_SIZE - 1)], ts);
        return;
    }
    d->burst_window = w;
    uint32_t n = d->max_rate * 2u;
    for (uint32_t i = 0; i < n && d->state == MSM_STATE_RUNNING; i++)
        hypercall(rs, d, mix[msm_rng_next(s->rng) & (MIX_SIZE - 1)], ts);
}

/* The adversary's slot (msm.h, msm_adversary); `a` is the draw past the domain's own
 * misbehaviour thresholds. */
static void adversary(run_state *rs, msm_dom *d, const uint32_t *mix, uint64_t r, uint64_t a,
                      uint64_t ts)
{
    msm_sim *s = rs->s;
    if (a < rs->adv[0]) {
        uint32_t cand = s->n_live - 1, pick = (uint32_t)((r & 0xFFFFFFu) % (cand ? cand : 1));
        for (uint32_t i = 0; cand && i < s->n_live; i++) {
            msm_dom *o = &s->doms[s->order[i]];
            if (o != d && pick-- == 0) {
                channel(rs, d, o, r, ts);
                return;
            }
        }
        hypercall(rs, d, mix[r & (MIX_SIZE - 1)], ts);
        return;
    }
    if (a < rs->adv[1]) {
        const msm_table *devs = &s->active.t[MSM_OBJ_DEVICE];
        if (!devs->n) {
            hypercall(rs, d, mix[r & (MIX_SIZE - 1)], ts);
            return;
        }
        const msm_device *dev = msm_tbl_at(devs, (uint32_t)((r & 0xFFFFFFu) % devs->n));
        uint32_t bdf = dev->bdf;
        rs->devices++;
        if (msm_device_assign(rs->ctx, d->domid, bdf) != MSM_OK) {
            rs->devices_denied++;
            return;
        }
        emit(rs, MSM_EV_DEVICE, d->domid, bdf, 0, NULL, ts);
        msm_device_release(rs->ctx, d->domid, bdf);
        return;
    }
    if (a < rs->adv[2]) {
        hypercall_nr(rs, d, (uint32_t)((r & 0xFFFFu) % 72u), (uint32_t)(((r >> 16) & 0xFFFFu) % 264u),
                     ts);
        return;
    }
    burst(rs, d, mix, r, ts);
}

static MSM_NOINLINE void misbehave(run_state *rs, msm_dom *d, const uint32_t *mix, uint64_t r,
                                   uint64_t ts)
{
    msm_sim *s = rs->s;
    uint64_t u = r >> 32;
    if (u < d->mis_cum[0]) {
        const mix_entry *b = &bad_calls[(r >> 10) & 7u];
        hypercall(rs, d, (uint16_t)(b->nr | b->subop << 8), ts);
        return;
    }
    if (u < d->mis_cum[1]) {
        burst(rs, d, mix, r, ts);
        return;
    }
    if (u >= d->mis_cum[2]) {
        adversary(rs, d, mix, r, u - d->mis_cum[2], ts);
        return;
    }
    uint32_t cand = 0;
    for (uint32_t i = 0; i < s->n_live; i++) {
        const msm_dom *o = &s->doms[s->order[i]];
        cand += o->domid != 0 && o->tag != d->tag;
    }
    if (!cand) {
        hypercall(rs, d, mix[r & (MIX_SIZE - 1)], ts);
        return;
    }
    uint32_t pick = (uint32_t)((r & 0xFFFFFFu) % cand);
    for (uint32_t i = 0; i < s->n_live; i++) {
        msm_dom *o = &s->doms[s->order[i]];
        if (o->domid == 0 || o->tag == d->tag)
            continue;
        if (pick-- == 0) {
            channel(rs, d, o, r, ts);
            return;
        }
    }
}

/* Charges one slice of CPU: duration * vcpus * load, jittered by -2..+2 %, capped. */
static void account(msm_sim *s, msm_dom *d, uint64_t len)
{
    uint64_t cap = len * d->vcpus;
    uint64_t base = cap * d->load_permille / 1000u;
    uint64_t cpu = base * (980u + msm_rng_next(s->rng) % 41u) / 1000u;
    d->cpu_ns += cpu < cap ? cpu : cap;
}

/* A denied call of the mix (cold): which step denied it, counters and the violation
 * record.  The window counter already counts the call. */
static MSM_NOINLINE void denied(run_state *rs, msm_dom *d, uint32_t e, uint64_t ts)
{
    uint32_t nr = e & 0xFFu, subop = (e >> 8) & 0xFFu;
    uint32_t dec = msm_profile_decision(d->prof, nr, subop) != MSM_ALLOW ? MSM_DENY_PROFILE
                                                                          : MSM_DENY_RATE;
    rs->s->hc_denied++;
    rs->by_dec[dec]++;
    msm_sim_violation(rs->s, d, dec == MSM_DENY_PROFILE ? MSM_VIOL_PROFILE : MSM_VIOL_RATE, nr,
                      msm_hypercall_has_subops(nr) ? subop : 0, MSM_DOMID_INVALID, ts);
}

/* msm_rng_next on a generator held in four scalars (registers), not an array. */
static inline uint64_t rng_next4(uint64_t *s0, uint64_t *s1, uint64_t *s2, uint64_t *s3)
{
    uint64_t r = msm_rotl(*s1 * 5, 7) * 9, t = *s1 << 17;
    *s2 ^= *s0;
    *s3 ^= *s1;
    *s1 ^= *s2;
    *s0 ^= *s3;
    *s2 ^= t;
    *s3 = msm_rotl(*s3, 45);
    return r;
}

static inline void rng_store(uint64_t s[4], uint64_t g0, uint64_t g1, uint64_t g2, uint64_t g3)
{
    s[0] = g0;
    s[1] = g1;
    s[2] = g2;
    s[3] = g3;
}

/* One slice [t, t + len) of domain d's workload: its share of calls, each decided as
 * msm_sim_hypercall would, call k at t + k * step.  The slice lies inside one rate window
 * (slices end on 1 ms boundaries), so the window step of msm_decide is done once before
 * the first call.  The hot loop keeps only what an allowed call needs in registers: the
 * generator, the window counter, k; the other counters are derived at the end (plain mix
 * calls = calls - misbehaviours, allowed = plain - denied), and the generator and window
 * counter go back to s and d around every call that leaves the loop (misbehave, denied).
 * `logging` is a constant at both call sites: the loop without a sink is the one it was
 * before the soak, the other also writes each allowed call to the event buffer. */
static inline __attribute__((always_inline)) void
run_domain_t(run_state *rs, msm_dom *d, uint64_t t, uint64_t len, const int logging)
{
    uint32_t m = (d->guest_type - 1) * 2 + (d->os - 1);
    uint64_t rate = (uint64_t)base_rates[m] * d->vcpus * d->load_permille / 1000u;
    d->rate_acc += rate * len;
    uint64_t n = d->rate_acc / 1000000000u;
    d->rate_acc %= 1000000000u;
    if (!n)
        return;
    msm_sim *s = rs->s;
    const uint32_t *mix = mix_table[m];
    const uint64_t step = len / n, mis_total = d->mis_cum[3] + rs->adv[3],
                   max_rate = d->max_rate;
    const msm_profile *p = d->prof;
    const uint32_t domid = d->domid;
    uint64_t w = t / 1000000u;
    if (w > d->window) {
        d->window = w;
        d->wcount = 0;
    }
    /* The slice lies inside one minute too: allowed mix calls count by entry index. */
    msm_calls_roll(s, d, t / MSM_MINUTE_NS + 1);
    uint32_t *const calls = d->calls_mix;
    uint64_t wcount = d->wcount, k, mis_calls = 0, denials = 0;
    uint64_t g0 = s->rng[0], g1 = s->rng[1], g2 = s->rng[2], g3 = s->rng[3];
    msm_event *log = rs->log;
    uint32_t n_log = rs->n_log;
    for (k = 0; k < n; k++) {
        uint64_t r = rng_next4(&g0, &g1, &g2, &g3);
        if (MSM_UNLIKELY((r >> 32) < mis_total)) {
            rng_store(s->rng, g0, g1, g2, g3);
            d->wcount = wcount;
            if (logging)
                rs->n_log = n_log;
            misbehave(rs, d, mix, r, t + k * step);
            if (logging)
                n_log = rs->n_log;
            g0 = s->rng[0], g1 = s->rng[1], g2 = s->rng[2], g3 = s->rng[3];
            wcount = d->wcount;
            mis_calls++;
        } else {
            /* A mix entry's sub-op has 8 bits (< MSM_SUBOP_BITS); its nr is < 256 and
             * the tables' are all < MSM_NR_HYPERCALLS, but the test below does not rely
             * on it: nr is masked into the table and (nr < 64) ANDed in, branch-free. */
            uint32_t e = mix[r & (MIX_SIZE - 1)];
            uint32_t nr = e & 0xFFu;
            wcount++;
#if defined(MSM_TEST_INJECT_BUG) && (MSM_TEST_INJECT_BUG & 2)
            /* Test build only (tests/native/test_soak.py): the rate is off by one. */
            uint64_t ok = msm_profile_allows(p, nr & (MSM_NR_HYPERCALLS - 1), (e >> 8) & 0xFFu) &
                          (nr < MSM_NR_HYPERCALLS) & (wcount <= max_rate + 1);
#else
            uint64_t ok = msm_profile_allows(p, nr & (MSM_NR_HYPERCALLS - 1), (e >> 8) & 0xFFu) &
                          (nr < MSM_NR_HYPERCALLS) & (wcount <= max_rate);
#endif
            if (MSM_LIKELY(ok)) {
                calls[e >> 16]++;
                if (logging) {
                    msm_event *ev = &log[n_log++];
                    ev->ts_ns = t + k * step;
                    ev->kind = MSM_EV_HYPERCALL;
                    ev->domid = domid;
                    ev->a = nr;
                    ev->b = (e >> 8) & 0xFFu;
                    memset(&ev->uuid, 0, sizeof ev->uuid);
                    if (MSM_UNLIKELY(n_log == LOG_CAP)) {
                        rs->n_log = n_log;
                        flush(rs);
                        n_log = 0;
                    }
                }
                continue;
            }
            denials++;
            d->wcount = wcount;
            denied(rs, d, e, t + k * step);
        }
        if (MSM_UNLIKELY(d->state != MSM_STATE_RUNNING)) {
            k++; /* call k was made */
            break;
        }
    }
    rng_store(s->rng, g0, g1, g2, g3);
    d->wcount = wcount;
    if (logging)
        rs->n_log = n_log;
    /* Counters of plain mix calls are added once per slice; msm_sim_hypercall does the
     * same bookkeeping call by call (and did, for the misbehaviours). */
    uint64_t plain = k - mis_calls;
    d->hypercalls += plain;
    s->hc_checked += plain;
    rs->by_dec[MSM_ALLOW] += plain - denials;
}

static void run_domain(run_state *rs, msm_dom *d, uint64_t t, uint64_t len)
{
    run_domain_t(rs, d, t, len, 0);
}

static void run_domain_logged(run_state *rs, msm_dom *d, uint64_t t, uint64_t len)
{
    run_domain_t(rs, d, t, len, 1);
}

/* ------------------------------------------------------------- lifecycle */

int msm_soak_domain_config(const msm_uuid *uuid, msm_domain_config *out, size_t out_size)
{
    static const uint32_t kinds[6][2] = {
        {MSM_GUEST_PV, MSM_OS_LINUX},    {MSM_GUEST_PVH, MSM_OS_LINUX},
        {MSM_GUEST_PVHVM, MSM_OS_LINUX}, {MSM_GUEST_PVHVM, MSM_OS_WINDOWS},
        {MSM_GUEST_HVM, MSM_OS_LINUX},   {MSM_GUEST_HVM, MSM_OS_WINDOWS}};
    if (!uuid || !out)
        return MSM_EINVAL;
    if (out_size != sizeof *out)
        return MSM_ESIZE;
    memset(out, 0, sizeof *out);
    out->uuid = *uuid;
    memcpy(out->name, "soak-", 5);
    for (int i = 0; i < 8; i++) {
        out->name[5 + 2 * i] = "0123456789abcdef"[uuid->b[i] >> 4];
        out->name[6 + 2 * i] = "0123456789abcdef"[uuid->b[i] & 15];
    }
    out->guest_type = kinds[uuid->b[15] % 6][0];
    out->os = kinds[uuid->b[15] % 6][1];
    out->vcpus = 1u + uuid->b[14] % 8u;
    out->max_vcpus = 8;
    out->mem_kb = out->maxmem_kb = 2048;
    out->load_permille = 1000;
    return MSM_OK;
}

static int uuid_live(const msm_sim *s, const msm_uuid *u)
{
    for (uint32_t i = 0; i < s->n_live; i++)
        if (memcmp(&s->doms[s->order[i]].uuid, u, sizeof *u) == 0)
            return 1;
    return 0;
}

/* The toolstack's move after a slice (msm.h, msm_adversary.lifecycle_per_million). */
static void lifecycle(run_state *rs, uint64_t r, uint64_t ts)
{
    msm_sim *s = rs->s;
    uint32_t domus = s->n_live - 1;
    if (((r >> 16) & 3u) == 0 && domus) {
        /* order[0] is dom0: domids are sorted and dom0's is 0. */
        uint32_t domid = s->doms[s->order[1 + (r & 0xFFFFu) % domus]].domid;
        msm_domain_destroy(rs->ctx, domid);
        rs->destroys++;
        emit(rs, MSM_EV_DESTROY, domid, 0, 0, NULL, ts);
        return;
    }
    const msm_table *bt = &s->active.t[MSM_OBJ_BINDING];
    uint32_t m = 0;
    for (uint32_t i = 0; i < bt->n; i++)
        m += !uuid_live(s, &((const msm_binding *)msm_tbl_at(bt, i))->domain);
    if (!m)
        return;
    uint32_t pick = (uint32_t)((r & 0xFFFFu) % m);
    for (uint32_t i = 0; i < bt->n; i++) {
        const msm_binding *b = msm_tbl_at(bt, i);
        if (uuid_live(s, &b->domain) || pick-- != 0)
            continue;
        msm_domain_config cfg;
        uint32_t domid;
        msm_soak_domain_config(&b->domain, &cfg, sizeof cfg);
        rs->starts++;
        if (msm_domain_create(rs->ctx, &cfg, sizeof cfg, &domid) != MSM_OK)
            rs->starts_denied++;
        else
            emit(rs, MSM_EV_START, domid, 0, 0, &cfg.uuid, ts);
        return;
    }
}

/* ------------------------------------------------------------------- run */

static void run(msm_ctx *ctx, run_state *rs, uint64_t duration_ns, msm_run_counts *out)
{
    msm_sim *s = ctx->sim;
    pthread_once(&mix_once, build_mixes);
    rs->ctx = ctx;
    rs->s = s;
    uint64_t hc0 = s->hc_checked, stopped0 = s->stopped_total, dropped0 = s->ring_dropped;
    uint64_t t = s->now_ns, end = s->now_ns + duration_ns;
    while (t < end) {
        /* Slices end on 1 ms boundaries, so one slice is one rate window. */
        uint64_t slice_end = (t / 1000000u + 1) * 1000000u;
        if (slice_end > end)
            slice_end = end;
        uint64_t len = slice_end - t;
        for (uint32_t i = 0; i < s->n_live; i++) {
            msm_dom *d = &s->doms[s->order[i]];
            if (d->state != MSM_STATE_RUNNING)
                continue;
            account(s, d, len);
            if (d->domid == 0)
                continue;
            if (rs->sink)
                run_domain_logged(rs, d, t, len);
            else
                run_domain(rs, d, t, len);
        }
        if (rs->lifecycle) {
            uint64_t r = msm_rng_next(s->rng);
            if ((r >> 32) < rs->lifecycle)
                lifecycle(rs, r, slice_end);
        }
        t = slice_end;
    }
    if (rs->sink)
        flush(rs);
    s->now_ns = end;
    memset(out, 0, sizeof *out);
    out->hypercalls = s->hc_checked - hc0;
    out->allowed = rs->by_dec[MSM_ALLOW];
    out->denied_profile = rs->by_dec[MSM_DENY_PROFILE];
    out->denied_rate = rs->by_dec[MSM_DENY_RATE];
    out->denied_channel = rs->denied_channel;
    out->channels = rs->channels;
    out->domains_stopped = s->stopped_total - stopped0;
    out->ring_dropped = s->ring_dropped - dropped0;
    out->elapsed_ns = duration_ns;
}

int msm_sim_run_op(msm_ctx *ctx, uint64_t duration_ns, msm_run_counts *out)
{
    run_state rs;
    memset(&rs, 0, sizeof rs);
    run(ctx, &rs, duration_ns, out);
    return MSM_OK;
}

static uint64_t scaled(uint32_t per_million)
{
    return ((uint64_t)per_million << 32) / 1000000u;
}

int msm_sim_run_ex(msm_ctx *ctx, const msm_run_params *p, size_t p_size, msm_run_ex_counts *out,
                   size_t out_size)
{
    if (!ctx)
        return MSM_EINVAL;
    msm_clear_error(ctx);
    if (!p)
        return msm_fail(ctx, MSM_EINVAL, "params is NULL");
    if (!out)
        return msm_fail(ctx, MSM_EINVAL, "out is NULL");
    if (p_size != sizeof *p)
        return msm_fail(ctx, MSM_ESIZE, "msm_run_params: size %zu, expected %zu", p_size,
                        sizeof *p);
    if (out_size != sizeof *out)
        return msm_fail(ctx, MSM_ESIZE, "msm_run_ex_counts: size %zu, expected %zu", out_size,
                        sizeof *out);
    if (p->duration_ns > 60000000000ull)
        return msm_fail(ctx, MSM_ERANGE, "sim_run: duration > 60 s");
    const msm_adversary *a = &p->adversary;
    if (a->_reserved)
        return msm_fail(ctx, MSM_EINVAL, "adversary: reserved field must be 0");
    uint64_t per_call = (uint64_t)a->channel_per_million + a->device_per_million +
                        a->call_per_million + a->burst_per_million;
    if (per_call > 1000000u || a->lifecycle_per_million > 1000000u)
        return msm_fail(ctx, MSM_ERANGE, "adversary: more than 1000000 per million");
    if (ctx->backend != MSM_BACKEND_SIM)
        return msm_fail(ctx, MSM_ENOSYS, "sim_run: the xen backend runs no workload");
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.adv[0] = scaled(a->channel_per_million);
    rs.adv[1] = scaled(a->channel_per_million + a->device_per_million);
    rs.adv[2] = scaled(a->channel_per_million + a->device_per_million + a->call_per_million);
    rs.adv[3] = scaled((uint32_t)per_call);
    rs.lifecycle = scaled(a->lifecycle_per_million);
    msm_event *log = NULL;
    if (p->sink) {
        log = malloc(LOG_CAP * sizeof *log);
        if (!log)
            return msm_fail(ctx, MSM_ENOMEM, "out of memory");
        rs.sink = p->sink;
        rs.sink_user = p->sink_user;
        rs.log = log;
    }
    memset(out, 0, sizeof *out);
    run(ctx, &rs, p->duration_ns, &out->run);
    free(log);
    out->devices = rs.devices;
    out->devices_denied = rs.devices_denied;
    out->starts = rs.starts;
    out->starts_denied = rs.starts_denied;
    out->destroys = rs.destroys;
    out->events = rs.events;
    return MSM_OK;
}

/* ------------------------------------------------------------ soak world */

/* Every call of every mix (msm_soak.c builds its profiles from this union). */
void msm_workload_mix_union(uint64_t *hypercalls, uint64_t subops[][MSM_SUBOP_WORDS])
{
    for (int m = 0; m < 8; m++)
        for (const mix_entry *e = mixes[m]; e->weight; e++) {
            *hypercalls |= 1ull << e->nr;
            if (msm_hypercall_has_subops(e->nr))
                subops[e->nr][e->subop / 64] |= 1ull << (e->subop % 64);
        }
}

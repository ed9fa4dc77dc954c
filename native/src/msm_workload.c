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
static uint16_t mix_table[8][MIX_SIZE]; /* nr | subop << 8 */
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
                mix_table[m][at++] = (uint16_t)(e[i].nr | e[i].subop << 8);
        }
        /* Rounding leftovers go to the first (most common) call. */
        while (at < MIX_SIZE)
            mix_table[m][at++] = (uint16_t)(e[0].nr | e[0].subop << 8);
    }
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

typedef struct run_state {
    msm_sim *s;
    uint64_t by_dec[3];        /* hypercall decisions only */
    uint64_t channels, denied_channel;
} run_state;

static inline void hypercall(run_state *rs, msm_dom *d, uint16_t e, uint64_t ts)
{
    rs->by_dec[msm_sim_hypercall(rs->s, d, e & 0xFFu, e >> 8, ts)]++;
}

static MSM_NOINLINE void misbehave(run_state *rs, msm_dom *d, const uint16_t *mix, uint64_t r,
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
        uint64_t w = ts / 1000000u + 1;
        if (d->burst_window == w) { /* one burst per domain per window */
            hypercall(rs, d, mix[r & (MIX_SIZE - 1)], ts);
            return;
        }
        d->burst_window = w;
        uint32_t n = d->max_rate * 2u;
        for (uint32_t i = 0; i < n && d->state == MSM_STATE_RUNNING; i++)
            hypercall(rs, d, mix[msm_rng_next(s->rng) & (MIX_SIZE - 1)], ts);
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
            uint32_t kind = (r >> 24) & 1u ? MSM_CHAN_GRANT : MSM_CHAN_EVTCHN;
            rs->channels++;
            rs->denied_channel += msm_sim_channel(s, kind, d, o, ts) == MSM_DENY_CHANNEL;
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
static MSM_NOINLINE void denied(run_state *rs, msm_dom *d, uint16_t e, uint64_t ts)
{
    uint32_t nr = e & 0xFFu, subop = e >> 8;
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
 * counter go back to s and d around every call that leaves the loop (misbehave, denied). */
static void run_domain(run_state *rs, msm_dom *d, uint64_t t, uint64_t len)
{
    uint32_t m = (d->guest_type - 1) * 2 + (d->os - 1);
    uint64_t rate = (uint64_t)base_rates[m] * d->vcpus * d->load_permille / 1000u;
    d->rate_acc += rate * len;
    uint64_t n = d->rate_acc / 1000000000u;
    d->rate_acc %= 1000000000u;
    if (!n)
        return;
    msm_sim *s = rs->s;
    const uint16_t *mix = mix_table[m];
    const uint64_t step = len / n, mis_total = d->mis_cum[3], max_rate = d->max_rate;
    const msm_profile *p = d->prof;
    uint64_t w = t / 1000000u;
    if (w > d->window) {
        d->window = w;
        d->wcount = 0;
    }
    uint64_t wcount = d->wcount, k, mis_calls = 0, denials = 0;
    uint64_t g0 = s->rng[0], g1 = s->rng[1], g2 = s->rng[2], g3 = s->rng[3];
    for (k = 0; k < n; k++) {
        uint64_t r = rng_next4(&g0, &g1, &g2, &g3);
        if (MSM_UNLIKELY((r >> 32) < mis_total)) {
            rng_store(s->rng, g0, g1, g2, g3);
            d->wcount = wcount;
            misbehave(rs, d, mix, r, t + k * step);
            g0 = s->rng[0], g1 = s->rng[1], g2 = s->rng[2], g3 = s->rng[3];
            wcount = d->wcount;
            mis_calls++;
        } else {
            /* A mix entry's sub-op has 8 bits (< MSM_SUBOP_BITS); its nr is < 256 and
             * the tables' are all < MSM_NR_HYPERCALLS, but the test below does not rely
             * on it: nr is masked into the table and (nr < 64) ANDed in, branch-free. */
            uint16_t e = mix[r & (MIX_SIZE - 1)];
            uint32_t nr = e & 0xFFu;
            wcount++;
            uint64_t ok = msm_profile_allows(p, nr & (MSM_NR_HYPERCALLS - 1), e >> 8) &
                          (nr < MSM_NR_HYPERCALLS) & (wcount <= max_rate);
            if (MSM_LIKELY(ok))
                continue;
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
    /* Counters of plain mix calls are added once per slice; msm_sim_hypercall does the
     * same bookkeeping call by call (and did, for the misbehaviours). */
    uint64_t plain = k - mis_calls;
    d->hypercalls += plain;
    s->hc_checked += plain;
    rs->by_dec[MSM_ALLOW] += plain - denials;
}

int msm_sim_run_op(msm_ctx *ctx, uint64_t duration_ns, msm_run_counts *out)
{
    msm_sim *s = ctx->sim;
    pthread_once(&mix_once, build_mixes);
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.s = s;
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
            if (d->domid != 0)
                run_domain(&rs, d, t, len);
        }
        t = slice_end;
    }
    s->now_ns = end;
    memset(out, 0, sizeof *out);
    out->hypercalls = s->hc_checked - hc0;
    out->allowed = rs.by_dec[MSM_ALLOW];
    out->denied_profile = rs.by_dec[MSM_DENY_PROFILE];
    out->denied_rate = rs.by_dec[MSM_DENY_RATE];
    out->denied_channel = rs.denied_channel;
    out->channels = rs.channels;
    out->domains_stopped = s->stopped_total - stopped0;
    out->ring_dropped = s->ring_dropped - dropped0;
    out->elapsed_ns = duration_ns;
    return MSM_OK;
}

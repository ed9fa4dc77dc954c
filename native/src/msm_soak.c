/*
 * msm_soak.c -- the soak's world: a seeded policy of tags, conflict sets, profiles,
 * SecLabels, bindings and devices, put into a sim context and, object for object,
 * into the independent checker; then the first bound domains are started.  The
 * run itself is msm_sim_run_ex (msm_workload.c) with an adversary and the checker
 * as its event sink.
 */
#include <stdio.h>

#include "msm_sim.h"

void msm_workload_mix_union(uint64_t *hypercalls, uint64_t subops[][MSM_SUBOP_WORDS]);

#define N_TAGS 8
#define N_PROFILES 4
#define N_LABELS 12
#define N_BINDINGS 48
#define N_DEVICES 32
#define N_START 16

static void rand_uuid(uint64_t g[4], msm_uuid *u)
{
    uint64_t a = msm_rng_next(g), b = msm_rng_next(g) | 1u; /* never the zero uuid */
    memcpy(u->b, &a, 8);
    memcpy(u->b + 8, &b, 8);
}

/* Puts one object into the open transaction and into the checker. */
static int put(msm_ctx *ctx, msm_checker *chk, uint32_t type, const void *obj, size_t size)
{
    int rc = msm_txn_put(ctx, type, obj, size);
    if (rc == MSM_OK && chk)
        rc = msm_checker_put(chk, type, obj, size);
    return rc;
}

static int world_policy(msm_ctx *ctx, uint64_t g[4], msm_checker *chk)
{
    static const uint32_t sets[4][5] = {
        /* level, ntags, tags... (label 11, SECURITY, has tag 6) */
        {MSM_CONFLICT_NO_CORESIDENCE, 2, 0, 1, 0},
        {MSM_CONFLICT_NO_CORESIDENCE, 3, 2, 3, 4},
        {MSM_CONFLICT_NO_COMMUNICATION, 2, 3, 5, 0},
        {MSM_CONFLICT_NO_COMMUNICATION, 2, 6, 7, 0}};
    static const uint32_t rates[4] = {20, 1000, 60, 200};
    static msm_profile prof; /* 16 KiB: off the stack */
    msm_tag tags[N_TAGS];
    msm_uuid prof_ids[N_PROFILES], label_ids[N_LABELS];
    int rc = MSM_OK;
    for (uint32_t i = 0; i < N_TAGS && !rc; i++) {
        memset(&tags[i], 0, sizeof tags[i]);
        rand_uuid(g, &tags[i].id);
        snprintf(tags[i].name, sizeof tags[i].name, "soak-tag-%u", i);
        rc = put(ctx, chk, MSM_OBJ_TAG, &tags[i], sizeof tags[i]);
    }
    for (uint32_t i = 0; i < 4 && !rc; i++) {
        msm_conflict c;
        memset(&c, 0, sizeof c);
        rand_uuid(g, &c.id);
        snprintf(c.name, sizeof c.name, "soak-set-%u", i);
        c.level = sets[i][0];
        c.ntags = sets[i][1];
        for (uint32_t k = 0; k < c.ntags; k++)
            c.tags[k] = tags[sets[i][2 + k]].id;
        rc = put(ctx, chk, MSM_OBJ_CONFLICT, &c, sizeof c);
    }
    for (uint32_t i = 0; i < N_PROFILES && !rc; i++) {
        memset(&prof, 0, sizeof prof);
        rand_uuid(g, &prof.id);
        prof_ids[i] = prof.id;
        snprintf(prof.name, sizeof prof.name, "soak-profile-%u", i);
        msm_workload_mix_union(&prof.hypercalls, prof.subops);
        /* 1 + i calls of the mixes taken away: their mix calls are denied. */
        for (uint32_t k = 0; k <= i; k++) {
            uint64_t r = msm_rng_next(g);
            uint32_t nr = (uint32_t)(r % MSM_NR_HYPERCALLS);
            if (msm_hypercall_has_subops(nr))
                prof.subops[nr][(r >> 8) % 4] &= ~(1ull << ((r >> 16) % 64));
            else
                prof.hypercalls &= ~(1ull << nr);
        }
        /* Random extra calls and sub-ops beyond the mixes. */
        for (uint32_t k = 0; k < 8; k++) {
            uint64_t r = msm_rng_next(g);
            uint32_t nr = (uint32_t)(r % MSM_NR_HYPERCALLS);
            prof.hypercalls |= 1ull << nr;
            if (msm_hypercall_has_subops(nr))
                prof.subops[nr][(r >> 8) % 4] |= 1ull << ((r >> 16) % 64);
        }
        /* Profile 2 has no event_channel_op at all (its mixes' calls are denied): its
         * domains may hold no channel, so the label-level channel rule (interface 1.3)
         * is exercised, from their own tag's peers and from dom0. */
        if (i == 2)
            prof.hypercalls &= ~(1ull << MSM_HC_EVENT_CHANNEL_OP);
        rc = put(ctx, chk, MSM_OBJ_PROFILE, &prof, sizeof prof);
    }
    for (uint32_t i = 0; i < N_LABELS && !rc; i++) {
        msm_seclabel sl;
        memset(&sl, 0, sizeof sl);
        rand_uuid(g, &sl.id);
        label_ids[i] = sl.id;
        snprintf(sl.name, sizeof sl.name, "soak-label-%u", i);
        sl.profile = prof_ids[i % N_PROFILES];
        /* The SECURITY label's tag 6 is in no no-coresidence set: it always runs. */
        sl.tag = tags[i == 11 ? 6 : i % N_TAGS].id;
        sl.role = i == 11 ? MSM_ROLE_SECURITY : MSM_ROLE_NONE;
        sl.max_rate = rates[i % 4];
        sl.max_violations = i == 3 || i == 8 ? 500 : 0;
        rc = put(ctx, chk, MSM_OBJ_SECLABEL, &sl, sizeof sl);
    }
    for (uint32_t i = 0; i < N_BINDINGS && !rc; i++) {
        msm_binding b;
        rand_uuid(g, &b.domain);
        b.seclabel = label_ids[i % N_LABELS];
        rc = put(ctx, chk, MSM_OBJ_BINDING, &b, sizeof b);
    }
    for (uint32_t i = 0; i < N_DEVICES && !rc; i++) {
        msm_device d;
        memset(&d, 0, sizeof d);
        d.bdf = (1u << 8) | (i << 3); /* 0000:01:ii.0 */
        d.tag = tags[msm_rng_next(g) % N_TAGS].id;
        rc = put(ctx, chk, MSM_OBJ_DEVICE, &d, sizeof d);
    }
    return rc;
}

int msm_soak_world(msm_ctx *ctx, uint64_t seed, msm_checker *chk)
{
    if (!ctx)
        return MSM_EINVAL;
    if (ctx->backend != MSM_BACKEND_SIM)
        return msm_fail(ctx, MSM_ENOSYS, "soak: the sim backend only");
    uint64_t g[4];
    msm_rng_seed(g, seed);
    int rc = msm_txn_begin(ctx, MSM_TXN_EMPTY);
    if (rc)
        return rc;
    rc = world_policy(ctx, g, chk);
    if (rc) {
        msm_txn_abort(ctx);
        return rc;
    }
    rc = msm_txn_commit(ctx, NULL, 0);
    if (rc)
        return rc;
    uint32_t started = 0;
    for (uint32_t i = 0; i < N_BINDINGS && started < N_START; i++) {
        msm_binding b;
        msm_domain_config cfg;
        uint32_t domid;
        rc = msm_policy_get(ctx, MSM_OBJ_BINDING, i, &b, sizeof b);
        if (rc)
            return rc;
        msm_soak_domain_config(&b.domain, &cfg, sizeof cfg);
        rc = msm_domain_create(ctx, &cfg, sizeof cfg, &domid);
        if (rc == MSM_ECONFLICT)
            continue;
        if (rc)
            return rc;
        started++;
        if (chk) {
            msm_event e;
            memset(&e, 0, sizeof e);
            e.ts_ns = ctx->sim->now_ns;
            e.kind = MSM_EV_START;
            e.domid = domid;
            e.uuid = b.domain;
            msm_checker_feed(chk, &e, 1);
        }
    }
    return MSM_OK;
}

/* fixtures.h -- shared helpers of the C tests: a standard policy and domains. */
#ifndef XENON_MSM_FIXTURES_H
#define XENON_MSM_FIXTURES_H

#include <stdint.h>

#include "harness.h"
#include "msm.h"

static inline msm_uuid U(uint8_t n)
{
    msm_uuid u;
    memset(&u, 0, sizeof u);
    u.b[0] = n;
    u.b[15] = 0xA5;
    return u;
}

static inline int ueq(msm_uuid a, msm_uuid b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

enum { P_ALL = 0x10, P_MIN = 0x11, T_A = 0x20, T_B = 0x21, T_C = 0x22, T_S = 0x23,
       CS_AB = 0x30, CS_COMM = 0x31,
       SL_A = 0x40, SL_B = 0x41, SL_C = 0x42, SL_R = 0x43, SL_SEC = 0x44,
       D_A1 = 0x50, D_A2 = 0x51, D_B1 = 0x52, D_C1 = 0x53, D_R = 0x54, D_SEC = 0x55,
       D_X = 0x56 };

static inline msm_ctx *open_sim(uint32_t ring, uint64_t seed)
{
    msm_sim_config cfg;
    CHECK_EQ(msm_sim_config_default(&cfg, sizeof cfg), MSM_OK);
    cfg.ring_capacity = ring;
    cfg.seed = seed;
    msm_ctx *ctx = NULL;
    CHECK_EQ(msm_open_sim(&cfg, sizeof cfg, &ctx), MSM_OK);
    return ctx;
}

static inline int put_profile(msm_ctx *c, uint8_t id, const char *name, int all)
{
    msm_profile p;
    memset(&p, 0, sizeof p);
    p.id = U(id);
    snprintf(p.name, sizeof p.name, "%s", name);
    if (all) {
        /* A domU profile: everything but the privileged calls of bad_calls[]. */
        p.hypercalls = ~0ull & ~((1ull << 7) | (1ull << 8) | (1ull << 22) | (1ull << 35) |
                                 (1ull << 36) | (1ull << 37));
        for (uint32_t nr = 0; nr < MSM_NR_HYPERCALLS; nr++)
            if (msm_hypercall_has_subops(nr))
                memset(p.subops[nr], 0xFF, sizeof p.subops[nr]);
    } else {
        p.hypercalls = (1ull << 17) | (1ull << MSM_HC_SCHED_OP);
        p.subops[MSM_HC_SCHED_OP][0] = 1; /* yield only */
    }
    return msm_txn_put(c, MSM_OBJ_PROFILE, &p, sizeof p);
}

static inline int put_tag(msm_ctx *c, uint8_t id, const char *name)
{
    msm_tag t;
    memset(&t, 0, sizeof t);
    t.id = U(id);
    snprintf(t.name, sizeof t.name, "%s", name);
    return msm_txn_put(c, MSM_OBJ_TAG, &t, sizeof t);
}

static inline int put_conflict(msm_ctx *c, uint8_t id, const char *name, uint32_t level, uint8_t a,
                        uint8_t b)
{
    msm_conflict s;
    memset(&s, 0, sizeof s);
    s.id = U(id);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.level = level;
    s.ntags = 2;
    s.tags[0] = U(a);
    s.tags[1] = U(b);
    return msm_txn_put(c, MSM_OBJ_CONFLICT, &s, sizeof s);
}

static inline int put_seclabel(msm_ctx *c, uint8_t id, const char *name, uint8_t prof, uint8_t tag,
                        uint32_t role, uint32_t rate, uint32_t maxv)
{
    msm_seclabel s;
    memset(&s, 0, sizeof s);
    s.id = U(id);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.profile = U(prof);
    s.tag = U(tag);
    s.role = role;
    s.max_rate = rate;
    s.max_violations = maxv;
    return msm_txn_put(c, MSM_OBJ_SECLABEL, &s, sizeof s);
}

static inline int put_binding(msm_ctx *c, uint8_t dom, uint8_t sl)
{
    msm_binding b = {U(dom), U(sl)};
    return msm_txn_put(c, MSM_OBJ_BINDING, &b, sizeof b);
}

static inline int put_device(msm_ctx *c, uint32_t bdf, uint8_t tag)
{
    msm_device d = {bdf, 0, U(tag)};
    return msm_txn_put(c, MSM_OBJ_DEVICE, &d, sizeof d);
}

/* The standard policy of these tests. */
static inline void load_policy(msm_ctx *c)
{
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_EMPTY), MSM_OK);
    CHECK_EQ(put_profile(c, P_ALL, "all", 1), MSM_OK);
    CHECK_EQ(put_profile(c, P_MIN, "minimal", 0), MSM_OK);
    CHECK_EQ(put_tag(c, T_A, "alpha"), MSM_OK);
    CHECK_EQ(put_tag(c, T_B, "bravo"), MSM_OK);
    CHECK_EQ(put_tag(c, T_C, "charlie"), MSM_OK);
    CHECK_EQ(put_tag(c, T_S, "security"), MSM_OK);
    CHECK_EQ(put_conflict(c, CS_AB, "ab", MSM_CONFLICT_NO_CORESIDENCE, T_A, T_B), MSM_OK);
    CHECK_EQ(put_conflict(c, CS_COMM, "cs-comm", MSM_CONFLICT_NO_COMMUNICATION, T_S, T_A),
             MSM_OK);
    CHECK_EQ(put_seclabel(c, SL_A, "sl-a", P_ALL, T_A, 0, 1000, 0), MSM_OK);
    CHECK_EQ(put_seclabel(c, SL_B, "sl-b", P_ALL, T_B, 0, 1000, 0), MSM_OK);
    CHECK_EQ(put_seclabel(c, SL_C, "sl-c", P_ALL, T_C, 0, 1000, 0), MSM_OK);
    CHECK_EQ(put_seclabel(c, SL_R, "sl-r", P_MIN, T_C, 0, 3, 5), MSM_OK);
    CHECK_EQ(put_seclabel(c, SL_SEC, "sl-sec", P_ALL, T_S, MSM_ROLE_SECURITY, 1000, 0), MSM_OK);
    CHECK_EQ(put_binding(c, D_A1, SL_A), MSM_OK);
    CHECK_EQ(put_binding(c, D_A2, SL_A), MSM_OK);
    CHECK_EQ(put_binding(c, D_B1, SL_B), MSM_OK);
    CHECK_EQ(put_binding(c, D_C1, SL_C), MSM_OK);
    CHECK_EQ(put_binding(c, D_R, SL_R), MSM_OK);
    CHECK_EQ(put_binding(c, D_SEC, SL_SEC), MSM_OK);
    CHECK_EQ(put_device(c, 0x0300, T_A), MSM_OK);
    CHECK_EQ(put_device(c, 0x0100, T_C), MSM_OK);
    msm_commit_error e;
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_OK);
    CHECK_EQ(e.rule, MSM_RULE_NONE);
}

static inline int create(msm_ctx *c, uint8_t uuid, const char *name, uint32_t type, uint32_t *domid)
{
    msm_domain_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.uuid = U(uuid);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.guest_type = type;
    cfg.os = MSM_OS_LINUX;
    cfg.mem_kb = 3000; /* rounds up to 2 extents */
    cfg.maxmem_kb = 4096;
    cfg.vcpus = 2;
    cfg.max_vcpus = 4;
    cfg.load_permille = 500;
    return msm_domain_create(c, &cfg, sizeof cfg, domid);
}

static inline msm_domain_info dom(msm_ctx *c, uint32_t domid)
{
    msm_domain_info i;
    memset(&i, 0, sizeof i);
    CHECK_EQ(msm_domain_get(c, domid, &i, sizeof i), MSM_OK);
    return i;
}

#endif /* XENON_MSM_FIXTURES_H */

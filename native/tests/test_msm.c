/* test_msm.c -- unit tests of the sim backend through the public ABI. */
#include <stdint.h>

#include "harness.h"
#include "msm.h"

static msm_uuid U(uint8_t n)
{
    msm_uuid u;
    memset(&u, 0, sizeof u);
    u.b[0] = n;
    u.b[15] = 0xA5;
    return u;
}

static int ueq(msm_uuid a, msm_uuid b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

enum { P_ALL = 0x10, P_MIN = 0x11, T_A = 0x20, T_B = 0x21, T_C = 0x22, T_S = 0x23,
       CS_AB = 0x30, CS_COMM = 0x31,
       SL_A = 0x40, SL_B = 0x41, SL_C = 0x42, SL_R = 0x43, SL_SEC = 0x44,
       D_A1 = 0x50, D_A2 = 0x51, D_B1 = 0x52, D_C1 = 0x53, D_R = 0x54, D_SEC = 0x55,
       D_X = 0x56 };

static msm_ctx *open_sim(uint32_t ring, uint64_t seed)
{
    msm_sim_config cfg;
    CHECK_EQ(msm_sim_config_default(&cfg, sizeof cfg), MSM_OK);
    cfg.ring_capacity = ring;
    cfg.seed = seed;
    msm_ctx *ctx = NULL;
    CHECK_EQ(msm_open_sim(&cfg, sizeof cfg, &ctx), MSM_OK);
    return ctx;
}

static int put_profile(msm_ctx *c, uint8_t id, const char *name, int all)
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

static int put_tag(msm_ctx *c, uint8_t id, const char *name)
{
    msm_tag t;
    memset(&t, 0, sizeof t);
    t.id = U(id);
    snprintf(t.name, sizeof t.name, "%s", name);
    return msm_txn_put(c, MSM_OBJ_TAG, &t, sizeof t);
}

static int put_conflict(msm_ctx *c, uint8_t id, const char *name, uint32_t level, uint8_t a,
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

static int put_seclabel(msm_ctx *c, uint8_t id, const char *name, uint8_t prof, uint8_t tag,
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

static int put_binding(msm_ctx *c, uint8_t dom, uint8_t sl)
{
    msm_binding b = {U(dom), U(sl)};
    return msm_txn_put(c, MSM_OBJ_BINDING, &b, sizeof b);
}

static int put_device(msm_ctx *c, uint32_t bdf, uint8_t tag)
{
    msm_device d = {bdf, 0, U(tag)};
    return msm_txn_put(c, MSM_OBJ_DEVICE, &d, sizeof d);
}

/* The standard policy of these tests. */
static void load_policy(msm_ctx *c)
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

static int create(msm_ctx *c, uint8_t uuid, const char *name, uint32_t type, uint32_t *domid)
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

static msm_domain_info dom(msm_ctx *c, uint32_t domid)
{
    msm_domain_info i;
    memset(&i, 0, sizeof i);
    CHECK_EQ(msm_domain_get(c, domid, &i, sizeof i), MSM_OK);
    return i;
}

/* ---------------------------------------------------------------- tests */

static void test_names_and_statuses(void)
{
    CHECK(strcmp(msm_status_name(MSM_ECONFLICT), "MSM_ECONFLICT") == 0);
    CHECK(strcmp(msm_status_name(MSM_EVERSION), "MSM_EVERSION") == 0);
    CHECK(strcmp(msm_status_name(-1), "MSM_UNKNOWN") == 0);
    CHECK(strcmp(msm_hypercall_name(36), "domctl") == 0);
    CHECK(strcmp(msm_hypercall_name(11), "unused") == 0);
    CHECK(strcmp(msm_hypercall_name(55), "arch_7") == 0);
    CHECK(msm_hypercall_name(43) == NULL);
    CHECK(msm_hypercall_name(64) == NULL);
    CHECK_EQ(msm_hypercall_has_subops(36), 1);
    CHECK_EQ(msm_hypercall_has_subops(1), 0);
    CHECK_EQ(msm_hypercall_has_subops(1000), 0);
}

static void test_open_validation(void)
{
    msm_sim_config cfg;
    msm_ctx *c = (msm_ctx *)1;
    CHECK_EQ(msm_sim_config_default(&cfg, sizeof cfg - 1), MSM_ESIZE);
    CHECK_EQ(msm_sim_config_default(&cfg, sizeof cfg), MSM_OK);
    CHECK_EQ(msm_open_sim(&cfg, sizeof cfg, NULL), MSM_EINVAL);
    CHECK_EQ(msm_open_sim(NULL, sizeof cfg, &c), MSM_EINVAL);
    CHECK(c == NULL);
    cfg.ring_capacity = 1000;
    CHECK_EQ(msm_open_sim(&cfg, sizeof cfg, &c), MSM_ERANGE);
    CHECK(msm_last_error(NULL)[0] != '\0');
    cfg.ring_capacity = 16;
    cfg.dom0_mem_kb = cfg.host_mem_kb;
    CHECK_EQ(msm_open_sim(&cfg, sizeof cfg, &c), MSM_ERANGE);
    msm_close(NULL);
}

static void test_txn_basics(void)
{
    msm_ctx *c = open_sim(64, 1);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.generation, 0);
    CHECK_EQ(info.n_domains, 1);
    CHECK_EQ(info.free_mem_kb, info.host_mem_kb - 1024 * 1024);
    CHECK_EQ(msm_get_info(c, &info, sizeof info + 1), MSM_ESIZE);
    CHECK_EQ(msm_txn_abort(c), MSM_ESTATE);
    CHECK_EQ(put_tag(c, T_A, "alpha"), MSM_ESTATE);
    CHECK_EQ(msm_txn_begin(c, 7), MSM_EINVAL);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_EBUSY);
    /* Inserted out of order; policy_get returns them sorted by uuid bytes. */
    CHECK_EQ(put_tag(c, T_C, "charlie"), MSM_OK);
    CHECK_EQ(put_tag(c, T_A, "alpha"), MSM_OK);
    CHECK_EQ(put_tag(c, T_B, "bravo"), MSM_OK);
    CHECK_EQ(put_tag(c, T_B, "bravo2"), MSM_OK); /* replace */
    msm_tag bad;
    memset(&bad, 0, sizeof bad);
    strcpy(bad.name, "zero");
    CHECK_EQ(msm_txn_put(c, MSM_OBJ_TAG, &bad, sizeof bad), MSM_EINVAL); /* zero uuid */
    memset(&bad, 'x', sizeof bad); /* no NUL in the name */
    CHECK_EQ(msm_txn_put(c, MSM_OBJ_TAG, &bad, sizeof bad), MSM_EINVAL);
    CHECK_EQ(msm_txn_put(c, MSM_OBJ_TAG, &bad, sizeof bad - 1), MSM_ESIZE);
    CHECK_EQ(msm_txn_put(c, 9, &bad, sizeof bad), MSM_EINVAL);
    CHECK_EQ(msm_txn_put(c, MSM_OBJ_TAG, NULL, sizeof bad), MSM_EINVAL);
    CHECK_EQ(put_seclabel(c, SL_A, "x", P_ALL, T_A, 0, 0, 0), MSM_ERANGE);
    CHECK_EQ(put_seclabel(c, SL_A, "x", P_ALL, T_A, 0, 65536, 0), MSM_ERANGE);
    CHECK_EQ(put_seclabel(c, SL_A, "x", P_ALL, T_A, 4, 10, 0), MSM_EINVAL);
    CHECK_EQ(put_conflict(c, CS_AB, "same", MSM_CONFLICT_NO_CORESIDENCE, T_A, T_A), MSM_EINVAL);
    CHECK_EQ(put_conflict(c, CS_AB, "lvl", 3, T_A, T_B), MSM_EINVAL);
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.txn_open, 1);
    CHECK_EQ(info.n_tags, 0); /* staged, not active */
    msm_uuid id = U(T_C);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_TAG, &id, 0), MSM_OK);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_TAG, &id, 0), MSM_ENOENT);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_TAG, NULL, 0), MSM_EINVAL);
    CHECK_EQ(msm_txn_commit(c, NULL, 0), MSM_OK);
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.generation, 1);
    CHECK_EQ(info.n_tags, 2);
    CHECK_EQ(info.txn_open, 0);
    msm_tag t;
    CHECK_EQ(msm_policy_get(c, MSM_OBJ_TAG, 0, &t, sizeof t), MSM_OK);
    CHECK(ueq(t.id, U(T_A)));
    CHECK_EQ(msm_policy_get(c, MSM_OBJ_TAG, 1, &t, sizeof t), MSM_OK);
    CHECK(ueq(t.id, U(T_B)));
    CHECK(strcmp(t.name, "bravo2") == 0);
    CHECK_EQ(msm_policy_get(c, MSM_OBJ_TAG, 2, &t, sizeof t), MSM_ENOENT);
    /* Abort leaves the active policy as it was. */
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_EMPTY), MSM_OK);
    CHECK_EQ(msm_txn_abort(c), MSM_OK);
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.n_tags, 2);
    CHECK_EQ(info.generation, 1);
    msm_close(c);
}

static void test_commit_failures(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    msm_info before, after;
    CHECK_EQ(msm_get_info(c, &before, sizeof before), MSM_OK);
    msm_commit_error e;

    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    CHECK_EQ(put_seclabel(c, 0x4F, "dangling", 0x1F, T_A, 0, 10, 0), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_EVALIDATE);
    CHECK_EQ(e.rule, MSM_RULE_DANGLING_PROFILE);
    CHECK_EQ(e.type, MSM_OBJ_SECLABEL);
    CHECK(ueq(e.id, U(0x4F)));
    CHECK(ueq(e.other, U(0x1F)));
    CHECK_EQ(e.domid, MSM_DOMID_INVALID);
    CHECK(msm_last_error(c)[0] != '\0');
    CHECK_EQ(msm_get_info(c, &after, sizeof after), MSM_OK);
    CHECK_EQ(after.generation, before.generation);
    CHECK_EQ(after.n_seclabels, before.n_seclabels);
    CHECK_EQ(after.txn_open, 1); /* stays open: fix and commit again */

    /* Duplicate names: the later object in key order is reported. */
    CHECK_EQ(put_seclabel(c, 0x4F, "sl-a", P_ALL, T_A, 0, 10, 0), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_EVALIDATE);
    CHECK_EQ(e.rule, MSM_RULE_DUPLICATE_NAME);
    CHECK(ueq(e.id, U(0x4F)));
    CHECK(ueq(e.other, U(SL_A)));

    /* Binding to a missing seclabel. */
    CHECK_EQ(put_seclabel(c, 0x4F, "fine", P_ALL, T_A, 0, 10, 0), MSM_OK);
    CHECK_EQ(put_binding(c, 0x5F, 0x4E), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_EVALIDATE);
    CHECK_EQ(e.rule, MSM_RULE_DANGLING_SECLABEL);
    CHECK(ueq(e.id, U(0x5F)));
    msm_uuid k = U(0x5F);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_BINDING, &k, 0), MSM_OK);
    /* Device naming a missing tag. */
    CHECK_EQ(put_device(c, 0x0900, 0x2F), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_EVALIDATE);
    CHECK_EQ(e.rule, MSM_RULE_DANGLING_TAG);
    CHECK_EQ(e.type, MSM_OBJ_DEVICE);
    CHECK_EQ(e.bdf, 0x0900);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_DEVICE, NULL, 0x0900), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_OK);
    CHECK_EQ(msm_get_info(c, &after, sizeof after), MSM_OK);
    CHECK_EQ(after.generation, before.generation + 1);

    /* A running domain losing its binding. */
    uint32_t d;
    CHECK_EQ(create(c, D_C1, "c1", MSM_GUEST_PV, &d), MSM_OK);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    k = U(D_C1);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_BINDING, &k, 0), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_EVALIDATE);
    CHECK_EQ(e.rule, MSM_RULE_RUNNING_UNLABELLED);
    CHECK_EQ(e.domid, d);
    CHECK(ueq(e.id, U(D_C1)));
    CHECK_EQ(msm_txn_abort(c), MSM_OK);
    msm_close(c);
}

static void test_chinese_wall(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    uint32_t a1, a2, b1, c1;
    CHECK_EQ(create(c, 0x77, "nolabel", MSM_GUEST_PV, &a1), MSM_ENOLABEL);
    CHECK_EQ(create(c, D_A1, "a1", MSM_GUEST_PV, &a1), MSM_OK);
    CHECK_EQ(a1, 1);
    CHECK_EQ(create(c, D_A1, "other", MSM_GUEST_PV, &a2), MSM_EEXIST);
    CHECK_EQ(create(c, D_A2, "a1", MSM_GUEST_PV, &a2), MSM_EEXIST);
    CHECK_EQ(create(c, D_A2, "Domain-0", MSM_GUEST_PV, &a2), MSM_EEXIST);
    CHECK_EQ(create(c, D_A2, "a2", MSM_GUEST_HVM, &a2), MSM_OK); /* same type co-runs */
    CHECK_EQ(a2, 2);
    CHECK_EQ(create(c, D_B1, "b1", MSM_GUEST_PV, &b1), MSM_ECONFLICT);
    CHECK_EQ(create(c, D_C1, "c1", MSM_GUEST_PV, &c1), MSM_OK); /* in no set */
    CHECK_EQ(msm_domain_destroy(c, a1), MSM_OK);
    CHECK_EQ(create(c, D_B1, "b1", MSM_GUEST_PV, &b1), MSM_ECONFLICT); /* a2 still counts */
    CHECK_EQ(msm_domain_shutdown(c, a2, MSM_SHUTDOWN_POWEROFF), MSM_OK);
    CHECK_EQ(create(c, D_B1, "b1", MSM_GUEST_PV, &b1), MSM_ECONFLICT); /* until destroyed */
    CHECK_EQ(msm_domain_destroy(c, a2), MSM_OK);
    CHECK_EQ(create(c, D_B1, "b1", MSM_GUEST_PV, &b1), MSM_OK);
    CHECK_EQ(b1, 4); /* domids are not reused; refused creates take none */
    CHECK_EQ(create(c, D_A1, "a1", MSM_GUEST_PV, &a1), MSM_ECONFLICT);
    msm_domain_info i = dom(c, b1);
    CHECK(ueq(i.tag, U(T_B)));
    CHECK(ueq(i.seclabel, U(SL_B)));
    CHECK_EQ(msm_domain_destroy(c, 0), MSM_EINVAL);
    CHECK_EQ(msm_domain_destroy(c, 999), MSM_ENOENT);
    msm_close(c);
}

static void test_commit_readmission(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    msm_commit_error e;
    /* Remove the set so that A and B co-run, then put it back: refused. */
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    msm_uuid k = U(CS_AB);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_CONFLICT, &k, 0), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_OK);
    uint32_t a1, b1, c1;
    CHECK_EQ(create(c, D_C1, "c1", MSM_GUEST_PV, &c1), MSM_OK);
    CHECK_EQ(create(c, D_A1, "a1", MSM_GUEST_PV, &a1), MSM_OK);
    CHECK_EQ(create(c, D_B1, "b1", MSM_GUEST_PV, &b1), MSM_OK);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    CHECK_EQ(put_conflict(c, CS_AB, "ab", MSM_CONFLICT_NO_CORESIDENCE, T_A, T_B), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_EVALIDATE);
    CHECK_EQ(e.rule, MSM_RULE_CONFLICT);
    CHECK_EQ(e.type, 0);
    CHECK_EQ(e.domid, b1);
    CHECK(ueq(e.id, U(D_B1)));
    CHECK(ueq(e.other, U(T_A)));
    CHECK_EQ(msm_txn_abort(c), MSM_OK);
    /* Without b1 the set is admissible; a new domain of B is then refused. */
    CHECK_EQ(msm_domain_destroy(c, b1), MSM_OK);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    CHECK_EQ(put_conflict(c, CS_AB, "ab", MSM_CONFLICT_NO_CORESIDENCE, T_A, T_B), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_OK);
    CHECK_EQ(create(c, D_B1, "b1", MSM_GUEST_PV, &b1), MSM_ECONFLICT);
    /* Running domains pick up a new SecLabel at once: move c1 to the minimal profile. */
    uint32_t dec;
    CHECK_EQ(msm_check_hypercall(c, c1, 1, 0, 0, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    CHECK_EQ(put_binding(c, D_C1, SL_R), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_OK);
    CHECK_EQ(msm_check_hypercall(c, c1, 1, 0, 0, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_PROFILE);
    CHECK(ueq(dom(c, c1).seclabel, U(SL_R)));
    msm_close(c);
}

static void test_decisions_and_rate_window(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    uint32_t r, a, dec;
    CHECK_EQ(create(c, D_R, "r", MSM_GUEST_PV, &r), MSM_OK);
    CHECK_EQ(create(c, D_A1, "a", MSM_GUEST_PV, &a), MSM_OK);
    CHECK_EQ(msm_check_hypercall(c, 0, 36, 1, 0, &dec), MSM_OK); /* dom0 */
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_hypercall(c, r, 29, 0, 5000000, NULL), MSM_EINVAL);
    CHECK_EQ(msm_check_hypercall(c, 4242, 29, 0, 5000000, &dec), MSM_ENOENT);
    /* max_rate 3: calls 1-3 of a window pass, the 4th is over the rate. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(msm_check_hypercall(c, r, 29, 0, 5000000 + i, &dec), MSM_OK);
        CHECK_EQ(dec, MSM_ALLOW);
    }
    CHECK_EQ(msm_check_hypercall(c, r, 29, 0, 5999999, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_RATE);
    /* An earlier timestamp stays in the same window. */
    CHECK_EQ(msm_check_hypercall(c, r, 29, 0, 1000, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_RATE);
    /* Next window: the counter restarts; profile denials count too. */
    CHECK_EQ(msm_check_hypercall(c, r, 29, 1, 6000000, &dec), MSM_OK); /* block not allowed */
    CHECK_EQ(dec, MSM_DENY_PROFILE);
    CHECK_EQ(msm_check_hypercall(c, r, 29, 0, 6000001, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_hypercall(c, r, 17, 77, 6000002, &dec), MSM_OK); /* no sub-ops */
    CHECK_EQ(dec, MSM_ALLOW);
    msm_domain_info i = dom(c, r);
    CHECK_EQ(i.violations, 3);
    CHECK_EQ(i.hypercalls, 8);
    CHECK_EQ(msm_check_hypercall(c, a, 64, 0, 0, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_PROFILE);
    CHECK_EQ(msm_check_hypercall(c, a, 34, 256, 0, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_PROFILE);
    CHECK_EQ(msm_check_hypercall(c, a, 34, 255, 0, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_hypercall(c, a, 36, 1, 0, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_PROFILE);
    msm_violation v[8];
    uint32_t n;
    uint64_t dropped;
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0], 8, &n, &dropped), MSM_OK);
    CHECK_EQ(n, 6);
    CHECK_EQ(dropped, 0);
    CHECK_EQ(v[0].kind, MSM_VIOL_RATE);
    CHECK_EQ(v[0].domid, r);
    CHECK_EQ(v[0].ts_ns, 5999999);
    CHECK_EQ(v[0].count, 1);
    CHECK_EQ(v[0].peer, MSM_DOMID_INVALID);
    CHECK(ueq(v[0].seclabel, U(SL_R)));
    CHECK_EQ(v[2].kind, MSM_VIOL_PROFILE);
    CHECK_EQ(v[2].subop, 1);
    CHECK_EQ(v[3].nr, 64);
    CHECK_EQ(v[3].subop, 0);
    CHECK_EQ(v[4].subop, 256);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.hypercalls_checked, 12);
    CHECK_EQ(info.hypercalls_denied, 6);
    CHECK_EQ(msm_domain_pause(c, a), MSM_OK);
    CHECK_EQ(msm_check_hypercall(c, a, 1, 0, 0, &dec), MSM_ESTATE);
    msm_close(c);
}

static void test_ring_full_drops(void)
{
    msm_ctx *c = open_sim(16, 1);
    load_policy(c);
    uint32_t a, dec;
    CHECK_EQ(create(c, D_A1, "a", MSM_GUEST_PV, &a), MSM_OK);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(msm_check_hypercall(c, a, 99, 0, (uint64_t)i, &dec), MSM_OK);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.ring_used, 16);
    CHECK_EQ(info.ring_dropped, 4);
    msm_violation v[10];
    uint32_t n;
    uint64_t dropped;
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0], 10, &n, &dropped), MSM_OK);
    CHECK_EQ(n, 10);
    CHECK_EQ(dropped, 4);
    CHECK_EQ(v[0].ts_ns, 0); /* FIFO: oldest first, the newest were dropped */
    CHECK_EQ(v[9].count, 10);
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0], 10, &n, &dropped), MSM_OK);
    CHECK_EQ(n, 6);
    CHECK_EQ(dropped, 0);
    CHECK_EQ(v[5].count, 16);
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0] + 1, 10, &n, NULL), MSM_ESIZE);
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.ring_dropped, 4);
    msm_close(c);
}

static void test_max_violations_stop(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    uint32_t r, dec;
    CHECK_EQ(create(c, D_R, "r", MSM_GUEST_PV, &r), MSM_OK);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(msm_check_hypercall(c, r, 1, 0, 0, &dec), MSM_OK);
        CHECK_EQ(dec, MSM_DENY_PROFILE);
    }
    msm_domain_info i = dom(c, r);
    CHECK_EQ(i.state, MSM_STATE_PAUSED);
    CHECK_EQ(i.stopped_by_msm, 1);
    CHECK_EQ(i.violations, 5);
    CHECK_EQ(msm_check_hypercall(c, r, 1, 0, 0, &dec), MSM_ESTATE);
    CHECK_EQ(msm_domain_unpause(c, r), MSM_EVIOLATIONS);
    CHECK_EQ(msm_domain_reboot(c, r), MSM_EVIOLATIONS);
    CHECK_EQ(msm_domain_reset_violations(c, r), MSM_OK);
    i = dom(c, r);
    CHECK_EQ(i.state, MSM_STATE_PAUSED); /* stays paused until unpaused */
    CHECK_EQ(i.stopped_by_msm, 0);
    CHECK_EQ(i.violations, 0);
    CHECK_EQ(msm_domain_unpause(c, r), MSM_OK);
    CHECK_EQ(dom(c, r).state, MSM_STATE_RUNNING);
    CHECK_EQ(msm_domain_reset_violations(c, 4242), MSM_ENOENT);
    CHECK_EQ(msm_domain_unpause(c, 0), MSM_EINVAL);
    msm_close(c);
}

static void test_channels(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    uint32_t a1, a2, c1, s, dec;
    CHECK_EQ(create(c, D_A1, "a1", MSM_GUEST_PV, &a1), MSM_OK);
    CHECK_EQ(create(c, D_A2, "a2", MSM_GUEST_PV, &a2), MSM_OK);
    CHECK_EQ(create(c, D_C1, "c1", MSM_GUEST_PV, &c1), MSM_OK);
    CHECK_EQ(create(c, D_SEC, "sec", MSM_GUEST_PV, &s), MSM_OK);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_EVTCHN, a1, a2, 1, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a1, 0, 1, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, 0, c1, 1, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a1, c1, 7, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_CHANNEL);
    /* The security domain may talk to C, but S and A are a no-communication set. */
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_EVTCHN, s, c1, 8, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_EVTCHN, c1, s, 8, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_ALLOW);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_EVTCHN, s, a1, 9, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_CHANNEL);
    CHECK_EQ(msm_check_channel(c, 3, a1, c1, 1, &dec), MSM_EINVAL);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a1, a1, 1, &dec), MSM_EINVAL);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a1, 4242, 1, &dec), MSM_ENOENT);
    CHECK_EQ(msm_domain_pause(c, a2), MSM_OK);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a2, a1, 1, &dec), MSM_ESTATE);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a1, a2, 1, &dec), MSM_OK); /* dst paused ok */
    msm_violation v[4];
    uint32_t n;
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0], 4, &n, NULL), MSM_OK);
    CHECK_EQ(n, 2);
    CHECK_EQ(v[0].kind, MSM_VIOL_CHANNEL);
    CHECK_EQ(v[0].nr, MSM_HC_GRANT_TABLE_OP);
    CHECK_EQ(v[0].peer, c1);
    CHECK_EQ(v[0].domid, a1);
    CHECK_EQ(v[1].nr, MSM_HC_EVENT_CHANNEL_OP);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.channels_checked, 8);
    CHECK_EQ(info.channels_denied, 2);
    CHECK_EQ(dom(c, a1).hypercalls, 0);
    msm_close(c);
}

static void test_devices(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    uint32_t a1, a2, c1;
    CHECK_EQ(create(c, D_A1, "a1", MSM_GUEST_PV, &a1), MSM_OK);
    CHECK_EQ(create(c, D_A2, "a2", MSM_GUEST_PV, &a2), MSM_OK);
    CHECK_EQ(create(c, D_C1, "c1", MSM_GUEST_PV, &c1), MSM_OK);
    CHECK_EQ(msm_device_assign(c, c1, 0x0300), MSM_EDENIED);
    CHECK_EQ(msm_device_assign(c, 0, 0x0300), MSM_EDENIED);
    CHECK_EQ(msm_device_assign(c, a1, 0x0301), MSM_ENOENT);
    CHECK_EQ(msm_device_assign(c, 4242, 0x0300), MSM_ENOENT);
    CHECK_EQ(msm_device_assign(c, a1, 0x0300), MSM_OK);
    CHECK_EQ(msm_device_assign(c, a2, 0x0300), MSM_EBUSY);
    CHECK_EQ(msm_device_release(c, a2, 0x0300), MSM_ENOENT);
    CHECK_EQ(msm_device_assign(c, c1, 0x0100), MSM_OK);
    /* Re-tagging an assigned device is refused at commit. */
    msm_commit_error e;
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    CHECK_EQ(put_device(c, 0x0300, T_C), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, &e, sizeof e), MSM_EVALIDATE);
    CHECK_EQ(e.rule, MSM_RULE_DEVICE_TAG);
    CHECK_EQ(e.bdf, 0x0300);
    CHECK_EQ(e.domid, a1);
    CHECK(ueq(e.other, U(T_C)));
    CHECK_EQ(msm_txn_abort(c), MSM_OK);
    /* Destroy releases it. */
    CHECK_EQ(msm_domain_destroy(c, a1), MSM_OK);
    CHECK_EQ(msm_device_assign(c, a2, 0x0300), MSM_OK);
    CHECK_EQ(msm_device_release(c, a2, 0x0300), MSM_OK);
    CHECK_EQ(msm_device_release(c, a2, 0x0300), MSM_ENOENT);
    msm_close(c);
}

static void test_scrub(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    uint64_t free0 = info.free_mem_kb;
    uint32_t a, b;
    CHECK_EQ(create(c, D_A1, "a", MSM_GUEST_PV, &a), MSM_OK);
    msm_domain_info i = dom(c, a);
    CHECK_EQ(i.cur_mem_kb, 4096);
    CHECK_EQ(i.max_mem_kb, 4096);
    uint64_t size = i.cur_mem_kb * 1024;
    static uint8_t secret[10000], buf[10000];
    memset(secret, 0xC3, sizeof secret);
    CHECK_EQ(msm_domain_write(c, a, 4000, secret, sizeof secret), MSM_OK); /* crosses pages */
    CHECK_EQ(msm_domain_write(c, a, size - 10, secret, 10), MSM_OK);
    CHECK_EQ(msm_domain_write(c, a, size - 9, secret, 10), MSM_ERANGE);
    CHECK_EQ(msm_domain_write(c, a, UINT64_MAX, secret, 10), MSM_ERANGE);
    CHECK_EQ(msm_domain_read(c, a, 4000, buf, sizeof buf), MSM_OK);
    CHECK(memcmp(buf, secret, sizeof buf) == 0);
    CHECK_EQ(msm_domain_read(c, a, 1 << 20, buf, 16), MSM_OK); /* never written */
    CHECK_EQ(buf[0] | buf[15], 0);
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.free_mem_kb, free0 - 4096);
    CHECK_EQ(msm_domain_destroy(c, a), MSM_OK);
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.pages_scrubbed, 5); /* 4000..13999 spans 4 pages, plus the last page */
    CHECK_EQ(info.free_mem_kb, free0);
    /* The next domain reuses the same extents (LIFO) and sees only zeros. */
    CHECK_EQ(create(c, D_A2, "b", MSM_GUEST_PV, &b), MSM_OK);
    static uint8_t all[4096 * 1024];
    CHECK_EQ(msm_domain_read(c, b, 0, all, sizeof all), MSM_OK);
    size_t nonzero = 0;
    for (size_t k = 0; k < sizeof all; k++)
        nonzero += all[k] != 0;
    CHECK_EQ(nonzero, 0);
    /* Reboot scrubs too and keeps the domid. */
    CHECK_EQ(msm_domain_write(c, b, 0, secret, 100), MSM_OK);
    CHECK_EQ(msm_domain_reboot(c, b), MSM_OK);
    CHECK_EQ(msm_domain_read(c, b, 0, buf, 100), MSM_OK);
    CHECK_EQ(buf[0] | buf[99], 0);
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.pages_scrubbed, 10); /* every backed page of the extents, again */
    CHECK_EQ(msm_domain_read(c, b, 0, NULL, 0), MSM_EINVAL);
    msm_close(c);
}

static void test_lifecycle_and_list(void)
{
    msm_ctx *c = open_sim(64, 1);
    load_policy(c);
    uint32_t a, b;
    msm_domain_config cfg;
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg, &a), MSM_EINVAL); /* zero uuid */
    cfg.uuid = U(D_A1);
    strcpy(cfg.name, "a");
    cfg.guest_type = MSM_GUEST_PVH;
    cfg.os = MSM_OS_LINUX;
    cfg.mem_kb = 2048;
    cfg.maxmem_kb = 1024;
    cfg.vcpus = 1;
    cfg.max_vcpus = 1;
    CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg, &a), MSM_ERANGE);
    cfg.maxmem_kb = 2048;
    cfg.flags = 2;
    CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg, &a), MSM_EINVAL);
    cfg.flags = MSM_CREATE_PAUSED;
    CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg - 4, &a), MSM_ESIZE);
    cfg.mem_kb = 64ull * 1024 * 1024;
    cfg.maxmem_kb = cfg.mem_kb;
    CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg, &a), MSM_ENOSPC);
    cfg.mem_kb = cfg.maxmem_kb = 2048;
    CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg, &a), MSM_OK);
    CHECK_EQ(dom(c, a).state, MSM_STATE_PAUSED);
    CHECK_EQ(msm_domain_unpause(c, a), MSM_OK);
    CHECK_EQ(create(c, D_A2, "b", MSM_GUEST_PV, &b), MSM_OK);
    CHECK_EQ(msm_domain_shutdown(c, b, 9), MSM_ERANGE);
    CHECK_EQ(msm_domain_shutdown(c, b, MSM_SHUTDOWN_CRASH), MSM_OK);
    CHECK_EQ(msm_domain_shutdown(c, b, MSM_SHUTDOWN_CRASH), MSM_ESTATE);
    CHECK_EQ(msm_domain_pause(c, b), MSM_ESTATE);
    CHECK_EQ(msm_domain_unpause(c, b), MSM_ESTATE);
    msm_domain_info i = dom(c, b);
    CHECK_EQ(i.state, MSM_STATE_SHUTDOWN);
    CHECK_EQ(i.shutdown_reason, MSM_SHUTDOWN_CRASH);
    CHECK_EQ(msm_domain_reboot(c, b), MSM_OK);
    CHECK_EQ(dom(c, b).state, MSM_STATE_RUNNING);
    msm_domain_info list[2];
    uint32_t n = 0;
    CHECK_EQ(msm_domain_list(c, list, sizeof list[0], 2, &n), MSM_OK);
    CHECK_EQ(n, 3);
    CHECK_EQ(list[0].domid, 0);
    CHECK(strcmp(list[0].name, "Domain-0") == 0);
    CHECK_EQ(list[1].domid, a);
    CHECK_EQ(msm_domain_list(c, NULL, sizeof list[0], 0, &n), MSM_OK);
    CHECK_EQ(n, 3);
    CHECK_EQ(msm_domain_list(c, NULL, sizeof list[0], 1, &n), MSM_EINVAL);
    CHECK_EQ(msm_domain_pause(c, 0), MSM_EINVAL);
    CHECK_EQ(msm_sim_set_misbehaviour(c, a, 4, 1), MSM_EINVAL);
    CHECK_EQ(msm_sim_set_misbehaviour(c, a, 1, 1000001), MSM_ERANGE);
    CHECK_EQ(msm_sim_set_misbehaviour(c, 0, 1, 1), MSM_EINVAL);
    msm_close(c);
}

static void run_scenario(uint64_t seed, msm_run_counts *out, msm_domain_info *infos)
{
    msm_ctx *c = open_sim(1024, seed);
    load_policy(c);
    uint32_t a, b, r;
    CHECK_EQ(create(c, D_A1, "a", MSM_GUEST_PV, &a), MSM_OK);
    CHECK_EQ(create(c, D_C1, "c", MSM_GUEST_HVM, &b), MSM_OK);
    CHECK_EQ(create(c, D_SEC, "s", MSM_GUEST_PVHVM, &r), MSM_OK);
    CHECK_EQ(msm_sim_set_misbehaviour(c, a, MSM_MIS_OUT_OF_PROFILE, 2000), MSM_OK);
    CHECK_EQ(msm_sim_set_misbehaviour(c, b, MSM_MIS_CROSS_TAG, 3000), MSM_OK);
    CHECK_EQ(msm_sim_set_misbehaviour(c, r, MSM_MIS_RATE_BURST, 1000), MSM_OK);
    CHECK_EQ(msm_sim_run(c, 2000000000ull, out, sizeof *out), MSM_OK);
    uint32_t n;
    CHECK_EQ(msm_domain_list(c, infos, sizeof infos[0], 4, &n), MSM_OK);
    CHECK_EQ(n, 4);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.now_ns, 2000000000ull);
    msm_close(c);
}

static void test_workload_deterministic(void)
{
    msm_run_counts x, y, z;
    msm_domain_info dx[4], dy[4], dz[4];
    run_scenario(7, &x, dx);
    run_scenario(7, &y, dy);
    run_scenario(8, &z, dz);
    CHECK(memcmp(&x, &y, sizeof x) == 0);
    CHECK(memcmp(dx, dy, sizeof dx) == 0);
    CHECK(memcmp(dx, dz, sizeof dx) != 0);
    CHECK_EQ(x.elapsed_ns, 2000000000ull);
    CHECK_EQ(x.allowed + x.denied_profile + x.denied_rate, x.hypercalls);
    CHECK(x.denied_profile > 0);   /* out-of-profile calls of domain a */
    CHECK(x.denied_rate > 0);      /* bursts of 2 * max_rate: the second half is over */
    CHECK(x.channels > 0);
    CHECK(x.denied_channel > 0);
    /* Rates: PV 2 vCPU at 50 %: 10000/s; HVM Linux 3000/s; PVHVM 4000/s over 2 s. */
    CHECK(dx[1].hypercalls >= 19000 && dx[1].hypercalls <= 21000);
    /* CPU: 2 s * 2 vCPU * 50 % = 2e9 ns, jittered by at most 2 %. */
    CHECK(dx[1].cpu_ns >= 1960000000ull && dx[1].cpu_ns <= 2040000000ull);
    CHECK(dx[0].cpu_ns > 0); /* dom0 */
}

static void test_workload_stops_and_bursts(void)
{
    msm_ctx *c = open_sim(64, 3);
    load_policy(c);
    uint32_t r, a;
    CHECK_EQ(create(c, D_R, "r", MSM_GUEST_PV, &r), MSM_OK); /* minimal profile, 5 max */
    CHECK_EQ(create(c, D_A1, "a", MSM_GUEST_PVH, &a), MSM_OK);
    CHECK_EQ(msm_sim_set_misbehaviour(c, a, MSM_MIS_RATE_BURST, 100000), MSM_OK);
    msm_run_counts rc;
    CHECK_EQ(msm_sim_run(c, 100000000ull, &rc, sizeof rc), MSM_OK);
    msm_domain_info i = dom(c, r);
    CHECK_EQ(i.stopped_by_msm, 1);
    CHECK_EQ(i.violations, 5);   /* stopped at once: no calls after the 5th violation */
    CHECK_EQ(rc.domains_stopped, 1);
    CHECK(rc.denied_rate > 0);   /* bursts of 2 * max_rate inside one window */
    CHECK(rc.ring_dropped > 0);  /* ring of 64 overflowed */
    CHECK_EQ(msm_sim_run(c, 60000000001ull, &rc, sizeof rc), MSM_ERANGE);
    CHECK_EQ(msm_sim_run(c, 0, &rc, sizeof rc - 1), MSM_ESIZE);
    msm_close(c);
}

static void test_limits(void)
{
    msm_ctx *c = open_sim(64, 1);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_EMPTY), MSM_OK);
    int rc = MSM_OK;
    uint32_t i;
    for (i = 0; i <= MSM_MAX_DEVICES && rc == MSM_OK; i++)
        rc = put_device(c, i, T_A);
    CHECK_EQ(rc, MSM_ENOSPC);
    CHECK_EQ(i, MSM_MAX_DEVICES + 1);
    CHECK_EQ(put_device(c, 5, T_B), MSM_OK); /* replacing still works */
    CHECK_EQ(msm_txn_abort(c), MSM_OK);
    msm_close(c);
}

/* Random calls with random (often invalid) arguments: every status must be a
 * documented one, and memory accounting must stay consistent.  Run under ASan
 * by `make asan`, this is the C side of "nothing may crash". */
static uint64_t fz_state = 0x1234567;
static uint64_t fz(void)
{
    fz_state ^= fz_state << 13;
    fz_state ^= fz_state >> 7;
    fz_state ^= fz_state << 17;
    return fz_state;
}

static uint32_t fz_domid(void)
{
    static const uint32_t pool[] = {0, 1, 2, 3, 4, 5, 6, 7, 0x7FEF, 0x7FF0, UINT32_MAX};
    return pool[fz() % (sizeof pool / sizeof pool[0])];
}

static void fz_fill(void *obj, size_t size)
{
    uint8_t *b = obj;
    int mode = (int)(fz() % 3);
    for (size_t i = 0; i < size; i++)
        b[i] = mode == 0 ? (uint8_t)fz() : 0;
    if (mode != 0) { /* plausible: small uuid, short name */
        b[0] = (uint8_t)(fz() % 8 + 1);
        if (size >= 80) {
            b[16] = (uint8_t)('a' + fz() % 4);
            b[17] = (uint8_t)('a' + fz() % 4);
        }
    }
}

static void test_random_calls(void)
{
    msm_ctx *c = open_sim(16, 5);
    load_policy(c);
    static uint8_t obj[sizeof(msm_profile) + 8], buf[9000];
    int bad_status = 0;
    for (int it = 0; it < 30000; it++) {
        uint32_t type = (uint32_t)(fz() % 8), d = fz_domid(), dec = 0, n = 0;
        size_t size = sizeof obj;
        switch (type) {
        case 1: size = sizeof(msm_profile); break;
        case 2: size = sizeof(msm_tag); break;
        case 3: size = sizeof(msm_conflict); break;
        case 4: size = sizeof(msm_seclabel); break;
        case 5: size = sizeof(msm_binding); break;
        case 6: size = sizeof(msm_device); break;
        default: break;
        }
        if (fz() % 8 == 0)
            size += 1;
        int rc = 0;
        switch (fz() % 20) {
        case 0: rc = msm_txn_begin(c, (uint32_t)(fz() % 3)); break;
        case 1:
        case 2:
            fz_fill(obj, sizeof obj);
            if (type == 3 && fz() % 2)
                ((msm_conflict *)(void *)obj)->ntags = (uint32_t)(fz() % 70);
            rc = msm_txn_put(c, type, fz() % 16 ? obj : NULL, size);
            break;
        case 3: {
            msm_uuid u = U((uint8_t)(fz() % 0x60));
            rc = msm_txn_delete(c, type, fz() % 8 ? &u : NULL, (uint32_t)(fz() % 0x400));
            break;
        }
        case 4: {
            msm_commit_error e;
            rc = msm_txn_commit(c, fz() % 4 ? &e : NULL, sizeof e);
            break;
        }
        case 5: rc = msm_txn_abort(c); break;
        case 6: rc = msm_policy_get(c, type, (uint32_t)(fz() % 6), obj, size); break;
        case 7:
            rc = msm_check_hypercall(c, d, (uint32_t)(fz() % 70), (uint32_t)(fz() % 300),
                                     fz() % 10000000, fz() % 16 ? &dec : NULL);
            break;
        case 8:
            rc = msm_check_channel(c, (uint32_t)(fz() % 4), d, fz_domid(), fz() % 1000, &dec);
            break;
        case 9: {
            msm_violation v[8];
            rc = msm_ring_drain(c, v, sizeof v[0] + (fz() % 8 == 0), (uint32_t)(fz() % 9), &n,
                                NULL);
            break;
        }
        case 10: rc = msm_domain_reset_violations(c, d); break;
        case 11:
            rc = fz() % 2 ? msm_device_assign(c, d, (uint32_t)(fz() % 2 ? 0x0300 : 0x0100))
                          : msm_device_release(c, d, (uint32_t)(fz() % 2 ? 0x0300 : 0x0100));
            break;
        case 12: {
            msm_domain_config cfg;
            memset(&cfg, 0, sizeof cfg);
            cfg.uuid = U((uint8_t)(0x50 + fz() % 8));
            snprintf(cfg.name, sizeof cfg.name, "d%u", (unsigned)(fz() % 8));
            cfg.guest_type = (uint32_t)(fz() % 6);
            cfg.os = (uint32_t)(fz() % 3 + 1);
            cfg.mem_kb = fz() % 8 == 0 ? UINT64_MAX : fz() % 20000;
            cfg.maxmem_kb = cfg.mem_kb + fz() % 3;
            cfg.max_vcpus = (uint32_t)(fz() % 130);
            cfg.vcpus = (uint32_t)(fz() % 5);
            cfg.load_permille = (uint32_t)(fz() % 1100);
            cfg.flags = (uint32_t)(fz() % 3);
            rc = msm_domain_create(c, &cfg, sizeof cfg, &n);
            break;
        }
        case 13: rc = msm_domain_pause(c, d); break;
        case 14: rc = fz() % 2 ? msm_domain_unpause(c, d) : msm_domain_reboot(c, d); break;
        case 15:
            rc = fz() % 2 ? msm_domain_shutdown(c, d, (uint32_t)(fz() % 7))
                          : msm_domain_destroy(c, d);
            break;
        case 16: {
            uint64_t off = fz() % 4 == 0 ? fz() : fz() % (5u << 20);
            size_t len = (size_t)(fz() % sizeof buf);
            rc = fz() % 2 ? msm_domain_write(c, d, off, buf, len)
                          : msm_domain_read(c, d, off, buf, len);
            break;
        }
        case 17:
            rc = msm_sim_set_misbehaviour(c, d, (uint32_t)(fz() % 5),
                                          (uint32_t)(fz() % 1100000));
            break;
        case 18: {
            msm_run_counts r;
            rc = msm_sim_run(c, fz() % 3000000, &r, sizeof r);
            break;
        }
        default: {
            msm_domain_info di[4];
            rc = fz() % 2 ? msm_domain_list(c, di, sizeof di[0], (uint32_t)(fz() % 5), &n)
                          : msm_domain_get(c, d, di, sizeof di[0] - (fz() % 8 == 0));
            break;
        }
        }
        if (rc < 0 || rc > MSM_STATUS_MAX || rc == MSM_ENOSYS || rc == MSM_ENOXEN ||
            rc == MSM_EIO || rc == MSM_ENOMEM)
            bad_status++;
        if (rc != MSM_OK && msm_last_error(c)[0] == 0)
            bad_status++;
    }
    CHECK_EQ(bad_status, 0);
    /* Memory accounting: free + every live domain's memory == host memory. */
    msm_info info;
    msm_domain_info di[MSM_MAX_DOMAINS];
    uint32_t n;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(msm_domain_list(c, di, sizeof di[0], MSM_MAX_DOMAINS, &n), MSM_OK);
    uint64_t used = 0;
    for (uint32_t i = 0; i < n; i++)
        used += di[i].cur_mem_kb;
    CHECK_EQ(used + info.free_mem_kb, info.host_mem_kb);
    CHECK_EQ(n, info.n_domains);
    msm_close(c);
}

int main(void)
{
    RUN(test_names_and_statuses);
    RUN(test_open_validation);
    RUN(test_txn_basics);
    RUN(test_commit_failures);
    RUN(test_chinese_wall);
    RUN(test_commit_readmission);
    RUN(test_decisions_and_rate_window);
    RUN(test_ring_full_drops);
    RUN(test_max_violations_stop);
    RUN(test_channels);
    RUN(test_devices);
    RUN(test_scrub);
    RUN(test_lifecycle_and_list);
    RUN(test_workload_deterministic);
    RUN(test_workload_stops_and_bursts);
    RUN(test_limits);
    RUN(test_random_calls);
    return h_finish();
}

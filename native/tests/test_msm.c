/* test_msm.c -- policy transactions, Chinese Wall and enforcement of the sim backend. */
#include <stdint.h>

#include "fixtures.h"

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

/* One channel decision: the call succeeds and decides ``want`` (the line is the caller's). */
#define CHECK_CHANNEL(c, kind, from, to, ts, want)                                     \
    do {                                                                                 \
        uint32_t _dec = 0;                                                               \
        CHECK_EQ(msm_check_channel((c), (kind), (from), (to), (ts), &_dec), MSM_OK);     \
        CHECK_EQ(_dec, (want));                                                          \
    } while (0)

/* A refused channel's violation: the opening end, its peer and the hypercall of the kind. */
#define CHECK_CHANNEL_VIOLATION(v, from, to, hc)                                         \
    do {                                                                                 \
        CHECK_EQ((v).kind, MSM_VIOL_CHANNEL);                                            \
        CHECK_EQ((v).domid, (from));                                                     \
        CHECK_EQ((v).peer, (to));                                                        \
        CHECK_EQ((v).nr, (hc));                                                          \
    } while (0)

/* The channel tests' domains: a1 and a2 (tag A), c1 (tag C), r (tag C, profile "minimal"),
 * sec (the SECURITY domain). */
struct chan_world {
    msm_ctx *c;
    uint32_t a1, a2, c1, r, s;
};

static struct chan_world chan_world(void)
{
    struct chan_world w = {open_sim(64, 1), 0, 0, 0, 0, 0};
    load_policy(w.c);
    CHECK_EQ(create(w.c, D_A1, "a1", MSM_GUEST_PV, &w.a1), MSM_OK);
    CHECK_EQ(create(w.c, D_A2, "a2", MSM_GUEST_PV, &w.a2), MSM_OK);
    CHECK_EQ(create(w.c, D_C1, "c1", MSM_GUEST_PV, &w.c1), MSM_OK);
    CHECK_EQ(create(w.c, D_R, "r", MSM_GUEST_PV, &w.r), MSM_OK);
    CHECK_EQ(create(w.c, D_SEC, "sec", MSM_GUEST_PV, &w.s), MSM_OK);
    return w;
}

static void test_channels(void)
{
    struct chan_world w = chan_world();
    msm_ctx *c = w.c;
    uint32_t a1 = w.a1, a2 = w.a2, c1 = w.c1, s = w.s, dec;
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, a1, a2, 1, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_GRANT, a1, 0, 1, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_GRANT, 0, c1, 1, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_GRANT, a1, c1, 7, MSM_DENY_CHANNEL);
    /* The security domain may talk to C, but S and A are a no-communication set. */
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, s, c1, 8, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, c1, s, 8, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, s, a1, 9, MSM_DENY_CHANNEL);
    CHECK_EQ(msm_check_channel(c, 3, a1, c1, 1, &dec), MSM_EINVAL);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a1, a1, 1, &dec), MSM_EINVAL);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a1, 4242, 1, &dec), MSM_ENOENT);
    CHECK_EQ(msm_domain_pause(c, a2), MSM_OK);
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, a2, a1, 1, &dec), MSM_ESTATE);
    CHECK_CHANNEL(c, MSM_CHAN_GRANT, a1, a2, 1, MSM_ALLOW); /* dst paused ok */
    msm_violation v[4];
    uint32_t n;
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0], 4, &n, NULL), MSM_OK);
    CHECK_EQ(n, 2);
    CHECK_CHANNEL_VIOLATION(v[0], a1, c1, MSM_HC_GRANT_TABLE_OP);
    CHECK_CHANNEL_VIOLATION(v[1], s, a1, MSM_HC_EVENT_CHANNEL_OP);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.channels_checked, 8);
    CHECK_EQ(info.channels_denied, 2);
    CHECK_EQ(dom(c, a1).hypercalls, 0);
    msm_close(c);
}

/* Interface 1.3: a channel also needs event_channel_op in both ends' profiles.  sl-r
 * (profile "minimal": xen_version and sched_op yield, no event_channel_op) is a same-tag
 * peer of sl-c, as a quarantined domain is of its tag's other domains. */
static void test_channel_label_rule(void)
{
    struct chan_world w = chan_world();
    msm_ctx *c = w.c;
    uint32_t c1 = w.c1, r = w.r, s = w.s;
    /* A same-tag channel between two profiles with event_channel_op still works. */
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, w.a1, w.a2, 1, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_GRANT, w.a2, w.a1, 1, MSM_ALLOW);
    /* Same tag C, but r's profile lacks event_channel_op: refused at either end, of
     * either kind, from dom0 too, and from the SECURITY domain (whose tag rule allows C). */
    static const uint32_t kinds[2] = {MSM_CHAN_EVTCHN, MSM_CHAN_GRANT};
    for (uint32_t k = 0; k < 2; k++) {
        CHECK_CHANNEL(c, kinds[k], c1, r, 10 + k, MSM_DENY_CHANNEL);
        CHECK_CHANNEL(c, kinds[k], r, c1, 20 + k, MSM_DENY_CHANNEL);
        CHECK_CHANNEL(c, kinds[k], 0, r, 30 + k, MSM_DENY_CHANNEL);
        CHECK_CHANNEL(c, kinds[k], r, 0, 40 + k, MSM_DENY_CHANNEL);
        CHECK_CHANNEL(c, kinds[k], s, r, 50 + k, MSM_DENY_CHANNEL);
    }
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, s, c1, 60, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, 0, c1, 60, MSM_ALLOW);
    /* Each refusal is a violation of the opening end, the peer recorded. */
    msm_violation v[16];
    uint32_t n;
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0], 16, &n, NULL), MSM_OK);
    CHECK_EQ(n, 10);
    CHECK_CHANNEL_VIOLATION(v[0], c1, r, MSM_HC_EVENT_CHANNEL_OP);
    CHECK_CHANNEL_VIOLATION(v[1], r, c1, MSM_HC_EVENT_CHANNEL_OP);
    CHECK_CHANNEL_VIOLATION(v[2], 0, r, MSM_HC_EVENT_CHANNEL_OP);
    CHECK_CHANNEL_VIOLATION(v[5], c1, r, MSM_HC_GRANT_TABLE_OP);
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.channels_checked, 14);
    CHECK_EQ(info.channels_denied, 10);
    /* The label decides, not the domain: r's SecLabel given the full profile (one commit,
     * r rebound while it runs) and the same channel is allowed. */
    CHECK_EQ(msm_txn_begin(c, 0), MSM_OK);
    CHECK_EQ(put_seclabel(c, SL_R, "sl-r", P_ALL, T_C, 0, 3, 5), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, NULL, 0), MSM_OK);
    CHECK_CHANNEL(c, MSM_CHAN_EVTCHN, c1, r, 70, MSM_ALLOW);
    CHECK_CHANNEL(c, MSM_CHAN_GRANT, 0, r, 70, MSM_ALLOW);
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
    RUN(test_channel_label_rule);
    RUN(test_devices);
    RUN(test_limits);
    return h_finish();
}

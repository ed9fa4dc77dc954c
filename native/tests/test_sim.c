/* test_sim.c -- the sim's domains: memory scrub, lifecycle, workload, random calls. */
#include <stdint.h>

#include "fixtures.h"

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
    /* 10 = 5 + 5: b's extents hold the very pages a wrote (b itself wrote only
     * page 0, which is one of them), so the zeros read above came from reused,
     * scrubbed pages and not from fresh memory. */
    CHECK_EQ(info.pages_scrubbed, 10);
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

/* The evaluation mode on the standard policy copied out of a context, fed random
 * streams (under `make asan`: no bad access on any path), and the allowed-call counts
 * of a workload run adding up to its allowed calls. */
static void test_eval_and_call_counts(void)
{
    msm_ctx *c = open_sim(1024, 5);
    load_policy(c);
    msm_eval *ev = NULL;
    CHECK_EQ(msm_eval_new(&ev), MSM_OK);
    static const size_t sizes[7] = {0, sizeof(msm_profile), sizeof(msm_tag),
                                    sizeof(msm_conflict), sizeof(msm_seclabel),
                                    sizeof(msm_binding), sizeof(msm_device)};
    static msm_profile buf; /* the largest object */
    for (uint32_t t = MSM_OBJ_PROFILE; t <= MSM_OBJ_DEVICE; t++)
        for (uint32_t i = 0; msm_policy_get(c, t, i, &buf, sizes[t]) == MSM_OK; i++)
            CHECK_EQ(msm_eval_put(ev, t, &buf, sizes[t]), MSM_OK);
    uint8_t dec[512];
    msm_event evs[512];
    CHECK_EQ(msm_eval_run(ev, evs, sizeof evs[0], 1, dec, NULL, 0), MSM_ESTATE);
    msm_commit_error e;
    CHECK_EQ(msm_eval_seal(ev, &e, sizeof e), MSM_OK);
    static const uint8_t uuids[] = {D_A1, D_A2, D_B1, D_C1, D_R, D_SEC, 99};
    uint64_t decided = 0;
    for (int round = 0; round < 200; round++) {
        for (uint32_t i = 0; i < 512; i++) {
            msm_event *x = &evs[i];
            memset(x, 0, sizeof *x);
            x->ts_ns = (uint64_t)round * 1000000u + i * 1000u;
            x->kind = (uint32_t)(fz() % 5) + 1;
            x->domid = (uint32_t)(fz() % 6) + (x->kind >= MSM_EV_START ? 1 : 0);
            x->a = (uint32_t)(fz() % 80);
            x->b = (uint32_t)(fz() % 300);
            if (x->kind == MSM_EV_CHANNEL) {
                x->a = (uint32_t)(fz() % 2) + 1;
                x->b = (x->domid + 1 + (uint32_t)(fz() % 5)) % 7;
            }
            if (x->kind == MSM_EV_DEVICE)
                x->a = fz() % 2 ? 0x0300 : 0x0100;
            if (x->kind == MSM_EV_START)
                x->uuid = U(uuids[fz() % sizeof uuids]);
        }
        msm_eval_counts n;
        CHECK_EQ(msm_eval_run(ev, evs, sizeof evs[0], 512, dec, &n, sizeof n), MSM_OK);
        uint64_t sum = 0;
        for (int k = 0; k < MSM_EVAL_DECISIONS; k++)
            sum += n.by_decision[k];
        CHECK_EQ(sum, 512);
        for (uint32_t i = 0; i < 512; i++)
            CHECK(dec[i] < MSM_EVAL_DECISIONS);
        decided += n.events;
    }
    CHECK_EQ(decided, 200 * 512);
    evs[3].domid = 0x7FF0;
    CHECK_EQ(msm_eval_run(ev, evs, sizeof evs[0], 512, dec, NULL, 0), MSM_EINVAL);
    msm_eval_free(ev);

    uint32_t a, b;
    CHECK_EQ(create(c, D_A1, "a", MSM_GUEST_PV, &a), MSM_OK);
    CHECK_EQ(create(c, D_C1, "c", MSM_GUEST_HVM, &b), MSM_OK);
    CHECK_EQ(msm_sim_set_misbehaviour(c, a, MSM_MIS_OUT_OF_PROFILE, 50000), MSM_OK);
    uint64_t allowed = 0, counted = 0, lost = 0;
    static msm_call_count recs[4096];
    for (int round = 0; round < 3; round++) {
        msm_run_counts rc;
        CHECK_EQ(msm_sim_run(c, 40000000000ull, &rc, sizeof rc), MSM_OK);
        allowed += rc.allowed;
        if (round == 1)
            CHECK_EQ(msm_domain_destroy(c, b), MSM_OK);
        uint32_t got;
        uint64_t dropped;
        do {
            CHECK_EQ(msm_calls_drain(c, recs, sizeof recs[0], 4096, &got, &dropped), MSM_OK);
            lost += dropped;
            for (uint32_t i = 0; i < got; i++) {
                counted += recs[i].count;
                CHECK(recs[i].nr < MSM_NR_HYPERCALLS);
                CHECK_EQ(recs[i].minute_ns % 60000000000ull, 0);
            }
        } while (got == 4096);
    }
    CHECK(allowed > 0);
    CHECK_EQ(counted + lost, allowed);
    CHECK_EQ(lost, 0);
    uint32_t got;
    CHECK_EQ(msm_calls_drain(c, recs, sizeof recs[0] - 1, 1, &got, NULL), MSM_ESIZE);
    CHECK_EQ(msm_calls_drain(c, NULL, sizeof recs[0], 1, &got, NULL), MSM_EINVAL);
    msm_close(c);
}

int main(void)
{
    RUN(test_scrub);
    RUN(test_lifecycle_and_list);
    RUN(test_workload_deterministic);
    RUN(test_workload_stops_and_bursts);
    RUN(test_random_calls);
    RUN(test_eval_and_call_counts);
    return h_finish();
}

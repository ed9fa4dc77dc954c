/* bench_decision.c -- ns per decision inside msm_sim_run and through
 * msm_check_hypercall (`make -C native/tests bench`; not part of `test`). */
#include <stdio.h>
#include <time.h>

#include "fixtures.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
    msm_ctx *c = open_sim(65536, 42);
    load_policy(c);
    /* 4 domains of tag C (no conflicts), one per guest type, 8 vCPUs at full load. */
    static const uint8_t uuids[] = {D_C1, 0x60, 0x61, 0x62};
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_OK);
    for (int i = 1; i < 4; i++)
        CHECK_EQ(put_binding(c, uuids[i], SL_C), MSM_OK);
    CHECK_EQ(msm_txn_commit(c, NULL, 0), MSM_OK);
    uint32_t ids[4];
    for (uint32_t i = 0; i < 4; i++) {
        msm_domain_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.uuid = U(uuids[i]);
        snprintf(cfg.name, sizeof cfg.name, "bench%u", i);
        cfg.guest_type = i + 1;
        cfg.os = MSM_OS_LINUX;
        cfg.mem_kb = cfg.maxmem_kb = 2048;
        cfg.vcpus = cfg.max_vcpus = 8;
        cfg.load_permille = 1000;
        CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg, &ids[i]), MSM_OK);
    }
    msm_run_counts rc;
    double t0 = now_s();
    CHECK_EQ(msm_sim_run(c, 20000000000ull, &rc, sizeof rc), MSM_OK);
    double run = now_s() - t0;
    uint32_t dec;
    const int n = 10000000;
    t0 = now_s();
    for (int i = 0; i < n; i++)
        msm_check_hypercall(c, ids[0], 29, 0, 30000000000ull + (uint64_t)i * 1000, &dec);
    double pub = now_s() - t0;
    printf("{\"sim_run_decisions\": %llu, \"sim_run_ns_per_decision\": %.2f, "
           "\"check_hypercall_ns\": %.2f}\n",
           (unsigned long long)rc.hypercalls, run * 1e9 / (double)rc.hypercalls, pub * 1e9 / n);
    msm_close(c);
    return h_finish();
}

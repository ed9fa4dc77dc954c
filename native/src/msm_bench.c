/*
 * msm_bench.c -- the floor the MSM benchmark measures decisions against: bare
 * bitmap membership checks on the workload's random stream, timed here in C so
 * that no interpreter sits inside the measurement.
 */
#include <time.h>

#include "msm_sim.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int msm_bench_bitmap_floor(const msm_profile *profile, size_t profile_size, uint64_t seed,
                           uint64_t n, uint64_t *allowed, double *ns_per_check)
{
    if (!profile || !allowed || !ns_per_check)
        return msm_fail(NULL, MSM_EINVAL, "bench floor: %s is NULL",
                        !profile ? "profile" : !allowed ? "allowed" : "ns_per_check");
    if (profile_size != sizeof(msm_profile))
        return msm_fail(NULL, MSM_ESIZE, "msm_profile: size %zu, expected %zu", profile_size,
                        sizeof(msm_profile));
    if (n == 0 || n > MSM_BENCH_MAX_CHECKS)
        return msm_fail(NULL, MSM_ERANGE, "bench floor: n %llu not in 1..%llu",
                        (unsigned long long)n, (unsigned long long)MSM_BENCH_MAX_CHECKS);

    /* Rows of hypercalls without sub-ops become all ones, so one branch-free test
     * (hypercall bit AND sub-op bit) decides every pair: a mispredicted branch per
     * random pair would measure the predictor, not the bitmaps. */
    uint64_t rows[MSM_NR_HYPERCALLS][MSM_SUBOP_WORDS];
    for (uint32_t nr = 0; nr < MSM_NR_HYPERCALLS; nr++)
        for (uint32_t w = 0; w < MSM_SUBOP_WORDS; w++)
            rows[nr][w] = (MSM_SUBOP_MASK >> nr) & 1u ? profile->subops[nr][w] : ~0ull;
    const uint64_t hypercalls = profile->hypercalls;
    uint64_t rng[4];
    msm_rng_seed(rng, seed);

    uint64_t acc = 0;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = msm_rng_next(rng);
        uint32_t nr = (uint32_t)(r & 63u), subop = (uint32_t)(r >> 6) & 255u;
        acc += (hypercalls >> nr) & (rows[nr][subop >> 6] >> (subop & 63u)) & 1u;
    }
    uint64_t t1 = now_ns();

    *allowed = acc;
    *ns_per_check = (double)(t1 - t0) / (double)n;
    return MSM_OK;
}

/*
 * msm_cw.c -- Chinese Wall admission, after sHype/ACM chwall_domain_create
 * (xen stable-4.1, xen/xsm/acm/acm_chinesewall_hooks.c):
 *   1. refuse if conflict_aggregate_set[t] > 0 for the label's type t;
 *   2. for each no-coresidence set S containing t, every j in S with j != t
 *      gets conflict_aggregate_set[j]++;
 *   3. running_types[t]++.
 * A label here carries exactly one type (its tag).  Destroy reverses 2 and 3.
 */
#include "msm_internal.h"

int msm_cw_admit(const msm_policy *p, const msm_resolved *r, uint32_t *running,
                 uint32_t *aggregate, int32_t t)
{
    if (aggregate[t] > 0)
        return MSM_ECONFLICT;
    const msm_table *cs = &p->t[MSM_OBJ_CONFLICT];
    for (uint32_t i = r->nc_off[t]; i < r->nc_off[t + 1]; i++) {
        uint32_t c = r->nc_list[i];
        const msm_conflict *set = msm_tbl_at(cs, c);
        const int32_t *members = &r->cs_tags[(size_t)c * MSM_MAX_SET_TAGS];
        for (uint32_t k = 0; k < set->ntags; k++)
            if (members[k] != t)
                aggregate[members[k]]++;
    }
    running[t]++;
    return MSM_OK;
}

void msm_cw_release(const msm_policy *p, const msm_resolved *r, uint32_t *running,
                    uint32_t *aggregate, int32_t t)
{
    const msm_table *cs = &p->t[MSM_OBJ_CONFLICT];
    for (uint32_t i = r->nc_off[t]; i < r->nc_off[t + 1]; i++) {
        uint32_t c = r->nc_list[i];
        const msm_conflict *set = msm_tbl_at(cs, c);
        const int32_t *members = &r->cs_tags[(size_t)c * MSM_MAX_SET_TAGS];
        for (uint32_t k = 0; k < set->ntags; k++)
            if (members[k] != t && aggregate[members[k]] > 0)
                aggregate[members[k]]--;
    }
    if (running[t] > 0)
        running[t]--;
}

/* msm_policy.c -- sorted policy tables and the cross-object checks of a commit. */
#include <stdlib.h>

#include "msm_internal.h"

void msm_policy_init(msm_policy *p)
{
    static const uint32_t limits[MSM_NTYPES + 1] = {
        0, MSM_MAX_PROFILES, MSM_MAX_TAGS, MSM_MAX_CONFLICTS,
        MSM_MAX_SECLABELS, MSM_MAX_BINDINGS, MSM_MAX_DEVICES};
    memset(p, 0, sizeof *p);
    for (uint32_t t = 1; t <= MSM_NTYPES; t++) {
        p->t[t].esz = (uint32_t)msm_obj_size(t);
        p->t[t].limit = limits[t];
        p->t[t].bdf_key = (t == MSM_OBJ_DEVICE);
    }
}

void msm_policy_free(msm_policy *p)
{
    for (uint32_t t = 1; t <= MSM_NTYPES; t++) {
        free(p->t[t].data);
        p->t[t].data = NULL;
        p->t[t].n = p->t[t].cap = 0;
    }
}

int msm_policy_copy(msm_policy *dst, const msm_policy *src)
{
    msm_policy_init(dst);
    for (uint32_t t = 1; t <= MSM_NTYPES; t++) {
        const msm_table *s = &src->t[t];
        if (!s->n)
            continue;
        dst->t[t].data = malloc((size_t)s->n * s->esz);
        if (!dst->t[t].data) {
            msm_policy_free(dst);
            return MSM_ENOMEM;
        }
        memcpy(dst->t[t].data, s->data, (size_t)s->n * s->esz);
        dst->t[t].n = dst->t[t].cap = s->n;
    }
    return MSM_OK;
}

static int key_cmp(const msm_table *t, const void *obj, const msm_uuid *uuid, uint32_t bdf)
{
    if (t->bdf_key) {
        uint32_t k;
        memcpy(&k, obj, sizeof k);
        return k < bdf ? -1 : k > bdf;
    }
    return memcmp(obj, uuid, sizeof(msm_uuid));
}

int64_t msm_tbl_find(const msm_table *t, const msm_uuid *uuid, uint32_t bdf, uint32_t *ins)
{
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(t, msm_tbl_at(t, mid), uuid, bdf);
        if (c == 0) {
            if (ins)
                *ins = mid;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (ins)
        *ins = lo;
    return -1;
}

int64_t msm_find_uuid(const msm_table *t, const msm_uuid *u)
{
    return msm_tbl_find(t, u, 0, NULL);
}

int msm_tbl_put(msm_table *t, const void *obj)
{
    msm_uuid key;
    uint32_t bdf = 0;
    memcpy(&key, obj, sizeof key);
    memcpy(&bdf, obj, sizeof bdf);
    uint32_t ins;
    int64_t at = msm_tbl_find(t, &key, bdf, &ins);
    if (at >= 0) {
        memcpy(msm_tbl_at(t, (uint32_t)at), obj, t->esz);
        return MSM_OK;
    }
    if (t->n >= t->limit)
        return MSM_ENOSPC;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 16;
        if (cap > t->limit)
            cap = t->limit;
        uint8_t *d = realloc(t->data, (size_t)cap * t->esz);
        if (!d)
            return MSM_ENOMEM;
        t->data = d;
        t->cap = cap;
    }
    memmove(msm_tbl_at(t, ins + 1), msm_tbl_at(t, ins), (size_t)(t->n - ins) * t->esz);
    memcpy(msm_tbl_at(t, ins), obj, t->esz);
    t->n++;
    return MSM_OK;
}

int msm_tbl_remove(msm_table *t, const msm_uuid *uuid, uint32_t bdf)
{
    int64_t at = msm_tbl_find(t, uuid, bdf, NULL);
    if (at < 0)
        return MSM_ENOENT;
    uint32_t i = (uint32_t)at;
    memmove(msm_tbl_at(t, i), msm_tbl_at(t, i + 1), (size_t)(t->n - i - 1) * t->esz);
    t->n--;
    return MSM_OK;
}

/* -------------------------------------------------------------- resolve */

void msm_resolved_free(msm_resolved *r)
{
    free(r->sl_profile);
    free(r->sl_tag);
    free(r->cs_tags);
    free(r->nc_off);
    free(r->nc_list);
    free(r->ncm_off);
    free(r->ncm_list);
    memset(r, 0, sizeof *r);
}

typedef struct name_ref {
    const char *name;
    uint32_t idx;
} name_ref;

static int name_ref_cmp(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strncmp(x->name, y->name, MSM_NAME_LEN);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Finds the first object in key order whose name an earlier object already has. */
static int dup_names(msm_ctx *ctx, const msm_table *t, uint32_t type, msm_commit_error *err)
{
    if (t->n < 2)
        return MSM_OK;
    name_ref *refs = malloc((size_t)t->n * sizeof *refs);
    if (!refs)
        return msm_fail(ctx, MSM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < t->n; i++) {
        refs[i].name = (const char *)msm_tbl_at(t, i) + sizeof(msm_uuid);
        refs[i].idx = i;
    }
    qsort(refs, t->n, sizeof *refs, name_ref_cmp);
    uint32_t best = UINT32_MAX, first = 0;
    for (uint32_t i = 1; i < t->n; i++) {
        if (strncmp(refs[i].name, refs[i - 1].name, MSM_NAME_LEN) != 0)
            continue;
        /* refs[i-1] is the group's first member only if i-1 starts the group. */
        if (i >= 2 && strncmp(refs[i - 1].name, refs[i - 2].name, MSM_NAME_LEN) == 0)
            continue;
        if (refs[i].idx < best) {
            best = refs[i].idx;
            first = refs[i - 1].idx;
        }
    }
    free(refs);
    if (best == UINT32_MAX)
        return MSM_OK;
    err->rule = MSM_RULE_DUPLICATE_NAME;
    err->type = type;
    memcpy(&err->id, msm_tbl_at(t, best), sizeof(msm_uuid));
    memcpy(&err->other, msm_tbl_at(t, first), sizeof(msm_uuid));
    return msm_fail(ctx, MSM_EVALIDATE, "duplicate %s name \"%.63s\"", msm_objtype_name(type),
                    (const char *)msm_tbl_at(t, best) + sizeof(msm_uuid));
}

static int dangling(msm_ctx *ctx, msm_commit_error *err, uint32_t rule, uint32_t type,
                    const msm_uuid *id, uint32_t bdf, const msm_uuid *missing, const char *what)
{
    err->rule = rule;
    err->type = type;
    if (id)
        err->id = *id;
    err->bdf = bdf;
    err->other = *missing;
    return msm_fail(ctx, MSM_EVALIDATE, "%s names a missing %s", msm_objtype_name(type), what);
}

/* Builds CSR lists tag -> conflict sets of `level`. */
static int build_csr(const msm_policy *p, const msm_resolved *r, uint32_t level,
                     uint32_t **off_out, uint32_t **list_out)
{
    const msm_table *tags = &p->t[MSM_OBJ_TAG], *cs = &p->t[MSM_OBJ_CONFLICT];
    uint32_t *off = calloc((size_t)tags->n + 1, sizeof *off);
    if (!off)
        return MSM_ENOMEM;
    uint32_t total = 0;
    for (uint32_t c = 0; c < cs->n; c++) {
        const msm_conflict *set = msm_tbl_at(cs, c);
        if (set->level != level)
            continue;
        for (uint32_t k = 0; k < set->ntags; k++)
            off[r->cs_tags[(size_t)c * MSM_MAX_SET_TAGS + k] + 1]++;
        total += set->ntags;
    }
    for (uint32_t t = 0; t < tags->n; t++)
        off[t + 1] += off[t];
    uint32_t *list = malloc(((size_t)total + 1) * sizeof *list);
    uint32_t *fill = malloc(((size_t)tags->n + 1) * sizeof *fill);
    if (!list || !fill) {
        free(off);
        free(list);
        free(fill);
        return MSM_ENOMEM;
    }
    memcpy(fill, off, (size_t)tags->n * sizeof *fill);
    for (uint32_t c = 0; c < cs->n; c++) {
        const msm_conflict *set = msm_tbl_at(cs, c);
        if (set->level != level)
            continue;
        for (uint32_t k = 0; k < set->ntags; k++)
            list[fill[r->cs_tags[(size_t)c * MSM_MAX_SET_TAGS + k]]++] = c;
    }
    free(fill);
    *off_out = off;
    *list_out = list;
    return MSM_OK;
}

int msm_policy_resolve(msm_ctx *ctx, const msm_policy *p, msm_resolved *r,
                       msm_commit_error *err)
{
    memset(r, 0, sizeof *r);
    static const uint32_t named[] = {MSM_OBJ_PROFILE, MSM_OBJ_TAG, MSM_OBJ_CONFLICT,
                                     MSM_OBJ_SECLABEL};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        int rc = dup_names(ctx, &p->t[named[i]], named[i], err);
        if (rc)
            return rc;
    }
    const msm_table *tags = &p->t[MSM_OBJ_TAG], *cs = &p->t[MSM_OBJ_CONFLICT];
    const msm_table *sls = &p->t[MSM_OBJ_SECLABEL], *prof = &p->t[MSM_OBJ_PROFILE];
    r->cs_tags = malloc(((size_t)cs->n * MSM_MAX_SET_TAGS + 1) * sizeof(int32_t));
    r->sl_profile = malloc(((size_t)sls->n + 1) * sizeof(int32_t));
    r->sl_tag = malloc(((size_t)sls->n + 1) * sizeof(int32_t));
    if (!r->cs_tags || !r->sl_profile || !r->sl_tag) {
        msm_resolved_free(r);
        return msm_fail(ctx, MSM_ENOMEM, "out of memory");
    }
    int rc = MSM_OK;
    for (uint32_t c = 0; c < cs->n && !rc; c++) {
        const msm_conflict *set = msm_tbl_at(cs, c);
        for (uint32_t k = 0; k < set->ntags; k++) {
            int64_t t = msm_find_uuid(tags, &set->tags[k]);
            if (t < 0) {
                rc = dangling(ctx, err, MSM_RULE_DANGLING_TAG, MSM_OBJ_CONFLICT, &set->id, 0,
                              &set->tags[k], "tag");
                break;
            }
            r->cs_tags[(size_t)c * MSM_MAX_SET_TAGS + k] = (int32_t)t;
        }
    }
    for (uint32_t s = 0; s < sls->n && !rc; s++) {
        const msm_seclabel *sl = msm_tbl_at(sls, s);
        int64_t pi = msm_find_uuid(prof, &sl->profile);
        if (pi < 0) {
            rc = dangling(ctx, err, MSM_RULE_DANGLING_PROFILE, MSM_OBJ_SECLABEL, &sl->id, 0,
                          &sl->profile, "profile");
            break;
        }
        int64_t ti = msm_find_uuid(tags, &sl->tag);
        if (ti < 0) {
            rc = dangling(ctx, err, MSM_RULE_DANGLING_TAG, MSM_OBJ_SECLABEL, &sl->id, 0,
                          &sl->tag, "tag");
            break;
        }
        r->sl_profile[s] = (int32_t)pi;
        r->sl_tag[s] = (int32_t)ti;
    }
    const msm_table *bs = &p->t[MSM_OBJ_BINDING];
    for (uint32_t b = 0; b < bs->n && !rc; b++) {
        const msm_binding *bd = msm_tbl_at(bs, b);
        if (msm_find_uuid(sls, &bd->seclabel) < 0)
            rc = dangling(ctx, err, MSM_RULE_DANGLING_SECLABEL, MSM_OBJ_BINDING, &bd->domain, 0,
                          &bd->seclabel, "seclabel");
    }
    const msm_table *ds = &p->t[MSM_OBJ_DEVICE];
    for (uint32_t d = 0; d < ds->n && !rc; d++) {
        const msm_device *dv = msm_tbl_at(ds, d);
        if (msm_find_uuid(tags, &dv->tag) < 0)
            rc = dangling(ctx, err, MSM_RULE_DANGLING_TAG, MSM_OBJ_DEVICE, NULL, dv->bdf,
                          &dv->tag, "tag");
    }
    if (!rc && (build_csr(p, r, MSM_CONFLICT_NO_CORESIDENCE, &r->nc_off, &r->nc_list) ||
                build_csr(p, r, MSM_CONFLICT_NO_COMMUNICATION, &r->ncm_off, &r->ncm_list)))
        rc = msm_fail(ctx, MSM_ENOMEM, "out of memory");
    if (rc)
        msm_resolved_free(r);
    return rc;
}

int msm_tags_share_set(const msm_policy *p, const msm_resolved *r, const uint32_t *off,
                       const uint32_t *list, int32_t a, int32_t b)
{
    const msm_table *cs = &p->t[MSM_OBJ_CONFLICT];
    for (uint32_t i = off[a]; i < off[a + 1]; i++) {
        const int32_t *members = &r->cs_tags[(size_t)list[i] * MSM_MAX_SET_TAGS];
        const msm_conflict *set = msm_tbl_at(cs, list[i]);
        for (uint32_t k = 0; k < set->ntags; k++)
            if (members[k] == b)
                return 1;
    }
    return 0;
}

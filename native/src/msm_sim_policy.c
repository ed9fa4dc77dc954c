/* msm_sim_policy.c -- transactions of the sim backend: stage, validate, swap. */
#include <stdlib.h>

#include "msm_sim.h"

typedef union obj_buf {
    msm_profile p;
    msm_tag t;
    msm_conflict c;
    msm_seclabel s;
    msm_binding b;
    msm_device d;
} obj_buf;

int msm_sim_txn_begin(msm_ctx *ctx, uint32_t flags)
{
    msm_sim *s = ctx->sim;
    if (s->txn_open)
        return msm_fail(ctx, MSM_EBUSY, "a transaction is already open");
    if (flags == MSM_TXN_COPY) {
        if (msm_policy_copy(&s->staged, &s->active))
            return msm_fail(ctx, MSM_ENOMEM, "out of memory");
    } else {
        msm_policy_init(&s->staged);
    }
    s->txn_open = 1;
    return MSM_OK;
}

int msm_sim_txn_put(msm_ctx *ctx, uint32_t type, const void *obj, size_t size)
{
    (void)size;
    msm_sim *s = ctx->sim;
    obj_buf norm;
    int rc = msm_obj_validate(ctx, type, obj, &norm);
    if (rc)
        return rc;
    if (!s->txn_open)
        return msm_fail(ctx, MSM_ESTATE, "no open transaction");
    rc = msm_tbl_put(&s->staged.t[type], &norm);
    if (rc == MSM_ENOSPC)
        return msm_fail(ctx, rc, "%s table full (%u)", msm_objtype_name(type),
                        s->staged.t[type].limit);
    if (rc)
        return msm_fail(ctx, rc, "out of memory");
    return MSM_OK;
}

int msm_sim_txn_delete(msm_ctx *ctx, uint32_t type, const msm_uuid *id, uint32_t bdf)
{
    msm_sim *s = ctx->sim;
    if (!s->txn_open)
        return msm_fail(ctx, MSM_ESTATE, "no open transaction");
    if (msm_tbl_remove(&s->staged.t[type], id, bdf))
        return msm_fail(ctx, MSM_ENOENT, "no staged %s with that key", msm_objtype_name(type));
    return MSM_OK;
}

int msm_sim_txn_abort(msm_ctx *ctx)
{
    msm_sim *s = ctx->sim;
    if (!s->txn_open)
        return msm_fail(ctx, MSM_ESTATE, "no open transaction");
    msm_policy_free(&s->staged);
    s->txn_open = 0;
    return MSM_OK;
}

int msm_sim_policy_get(msm_ctx *ctx, uint32_t type, uint32_t index, void *out, size_t size)
{
    const msm_table *t = &ctx->sim->active.t[type];
    if (index >= t->n)
        return msm_fail(ctx, MSM_ENOENT, "%s index %u past the end (%u)", msm_objtype_name(type),
                        index, t->n);
    memcpy(out, msm_tbl_at(t, index), size);
    return MSM_OK;
}

static int bind_in(const msm_policy *p, const msm_resolved *r, const msm_uuid *uuid,
                   int32_t *sl, int32_t *tag)
{
    int64_t b = msm_find_uuid(&p->t[MSM_OBJ_BINDING], uuid);
    if (b < 0)
        return 0;
    const msm_binding *bd = msm_tbl_at(&p->t[MSM_OBJ_BINDING], (uint32_t)b);
    int64_t i = msm_find_uuid(&p->t[MSM_OBJ_SECLABEL], &bd->seclabel);
    if (i < 0)
        return 0;
    *sl = (int32_t)i;
    *tag = r->sl_tag[i];
    return 1;
}

int msm_sim_bind(msm_sim *s, const msm_uuid *uuid, int32_t *sl, int32_t *tag)
{
    return bind_in(&s->active, &s->res, uuid, sl, tag);
}

void msm_sim_apply_label(msm_sim *s, msm_dom *d, int32_t sl)
{
    const msm_seclabel *l = msm_tbl_at(&s->active.t[MSM_OBJ_SECLABEL], (uint32_t)sl);
    d->seclabel = sl;
    d->tag = s->res.sl_tag[sl];
    d->prof = msm_tbl_at(&s->active.t[MSM_OBJ_PROFILE], (uint32_t)s->res.sl_profile[sl]);
    d->max_rate = l->max_rate;
    d->max_violations = l->max_violations;
    d->role = l->role;
    d->sl_uuid = l->id;
    d->tag_uuid = *(const msm_uuid *)msm_tbl_at(&s->active.t[MSM_OBJ_TAG], (uint32_t)d->tag);
}

/* The tag of the earliest admitted domain that shares a no-coresidence set with `t`. */
static const msm_uuid *clashing_tag(const msm_policy *p, const msm_resolved *r,
                                    const int32_t *tags, uint32_t upto, int32_t t)
{
    for (uint32_t j = 0; j < upto; j++) {
        if (tags[j] < 0 || tags[j] == t)
            continue;
        if (msm_tags_share_set(p, r, r->nc_off, r->nc_list, t, tags[j]))
            return msm_tbl_at(&p->t[MSM_OBJ_TAG], (uint32_t)tags[j]);
    }
    return NULL;
}

static int readmit(msm_ctx *ctx, msm_sim *s, const msm_resolved *r, uint32_t *running,
                   uint32_t *agg, int32_t *new_sl, int32_t *new_tag, msm_commit_error *err)
{
    const msm_policy *p = &s->staged;
    for (uint32_t i = 0; i < s->n_live; i++) {
        const msm_dom *d = &s->doms[s->order[i]];
        new_sl[i] = new_tag[i] = -1;
        if (d->domid == 0)
            continue;
        if (!bind_in(p, r, &d->uuid, &new_sl[i], &new_tag[i])) {
            err->rule = MSM_RULE_RUNNING_UNLABELLED;
            err->id = d->uuid;
            err->domid = d->domid;
            return msm_fail(ctx, MSM_EVALIDATE, "domain %u (%.63s) would have no SecLabel",
                            d->domid, d->name);
        }
        if (msm_cw_admit(p, r, running, agg, new_tag[i])) {
            const msm_uuid *other = clashing_tag(p, r, new_tag, i, new_tag[i]);
            err->rule = MSM_RULE_CONFLICT;
            err->id = d->uuid;
            err->domid = d->domid;
            if (other)
                err->other = *other;
            new_tag[i] = -1;
            return msm_fail(ctx, MSM_EVALIDATE,
                            "domain %u (%.63s) conflicts with a running domain (Chinese Wall)",
                            d->domid, d->name);
        }
    }
    for (uint32_t a = 0; a < s->n_assigned; a++) {
        const msm_assign *as = &s->assigned[a];
        const msm_dom *d = msm_sim_dom(s, as->domid);
        uint32_t i = 0;
        while (i < s->n_live && s->doms[s->order[i]].domid != as->domid)
            i++;
        int64_t dv = msm_tbl_find(&p->t[MSM_OBJ_DEVICE], NULL, as->bdf, NULL);
        const msm_device *dev = dv >= 0 ? msm_tbl_at(&p->t[MSM_OBJ_DEVICE], (uint32_t)dv) : NULL;
        int ok = dev && d && i < s->n_live && new_tag[i] >= 0 &&
                 memcmp(&dev->tag, msm_tbl_at(&p->t[MSM_OBJ_TAG], (uint32_t)new_tag[i]),
                        sizeof(msm_uuid)) == 0;
        if (!ok) {
            err->rule = MSM_RULE_DEVICE_TAG;
            err->type = MSM_OBJ_DEVICE;
            err->bdf = as->bdf;
            err->domid = as->domid;
            if (dev)
                err->other = dev->tag;
            return msm_fail(ctx, MSM_EVALIDATE,
                            "device %04x:%02x:%02x.%u assigned to domain %u would change tag",
                            as->bdf >> 16, (as->bdf >> 8) & 0xFF, (as->bdf >> 3) & 0x1F,
                            as->bdf & 7, as->domid);
        }
    }
    return MSM_OK;
}

int msm_sim_txn_commit(msm_ctx *ctx, msm_commit_error *err)
{
    msm_sim *s = ctx->sim;
    if (!s->txn_open)
        return msm_fail(ctx, MSM_ESTATE, "no open transaction");
    msm_resolved r;
    int rc = msm_policy_resolve(ctx, &s->staged, &r, err);
    if (rc)
        return rc;
    uint32_t ntags = s->staged.t[MSM_OBJ_TAG].n;
    uint32_t *running = calloc((size_t)ntags + 1, sizeof *running);
    uint32_t *agg = calloc((size_t)ntags + 1, sizeof *agg);
    int32_t *new_sl = malloc(((size_t)s->n_live + 1) * sizeof *new_sl);
    int32_t *new_tag = malloc(((size_t)s->n_live + 1) * sizeof *new_tag);
    if (!running || !agg || !new_sl || !new_tag)
        rc = msm_fail(ctx, MSM_ENOMEM, "out of memory");
    else
        rc = readmit(ctx, s, &r, running, agg, new_sl, new_tag, err);
    if (rc) {
        free(running);
        free(agg);
        free(new_sl);
        free(new_tag);
        msm_resolved_free(&r);
        return rc;
    }
    msm_policy_free(&s->active);
    msm_resolved_free(&s->res);
    free(s->running);
    free(s->aggregate);
    s->active = s->staged;
    msm_policy_init(&s->staged);
    s->res = r;
    s->running = running;
    s->aggregate = agg;
    for (uint32_t i = 0; i < s->n_live; i++) {
        msm_dom *d = &s->doms[s->order[i]];
        if (d->domid != 0)
            msm_sim_apply_label(s, d, new_sl[i]);
    }
    free(new_sl);
    free(new_tag);
    s->generation++;
    s->txn_open = 0;
    return MSM_OK;
}

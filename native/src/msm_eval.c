/*
 * msm_eval.c -- the evaluation (what-if) mode: a recorded event stream decided
 * against a staged policy in a context of its own.  It shares the engine's
 * policy tables, commit checks (msm_policy_resolve), Chinese Wall (msm_cw_*)
 * and profile decision (msm_profile_decision), so an evaluation decides as the
 * live engine would after a commit; it never sees an msm_ctx, so it cannot
 * touch live counters, violations, domains or rate windows.
 */
#include <stdlib.h>

#include "msm_sim.h"

#define EV_DEAD (-1)   /* tag of a domid that is not live */
#define EV_DOM0 (-2)   /* tag of domid 0                  */

typedef struct ev_dom {
    const msm_profile *prof;
    uint64_t window, wcount;
    uint32_t max_rate;
    uint32_t role;
    int32_t tag;       /* tag index, EV_DEAD or EV_DOM0 */
    uint32_t _pad;
} ev_dom;

struct msm_eval {
    msm_policy pol;
    msm_resolved res;
    int sealed;
    uint32_t *running, *aggregate;   /* Chinese Wall per tag of pol */
    ev_dom *doms;                    /* MSM_DOMID_MAX + 1            */
    uint32_t n_live;
};

typedef union ev_obj {
    msm_profile p;
    msm_tag t;
    msm_conflict c;
    msm_seclabel s;
    msm_binding b;
    msm_device d;
} ev_obj;

int msm_eval_new(msm_eval **out)
{
    if (!out)
        return msm_fail(NULL, MSM_EINVAL, "eval_new: out is NULL");
    msm_eval *ev = calloc(1, sizeof *ev);
    if (!ev)
        return msm_fail(NULL, MSM_ENOMEM, "out of memory");
    ev->doms = malloc(((size_t)MSM_DOMID_MAX + 1) * sizeof *ev->doms);
    if (!ev->doms) {
        free(ev);
        return msm_fail(NULL, MSM_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i <= MSM_DOMID_MAX; i++) {
        memset(&ev->doms[i], 0, sizeof ev->doms[i]);
        ev->doms[i].tag = EV_DEAD;
    }
    ev->doms[0].tag = EV_DOM0;
    ev->n_live = 1;
    msm_policy_init(&ev->pol);
    *out = ev;
    return MSM_OK;
}

void msm_eval_free(msm_eval *ev)
{
    if (!ev)
        return;
    msm_policy_free(&ev->pol);
    if (ev->sealed)
        msm_resolved_free(&ev->res);
    free(ev->running);
    free(ev->aggregate);
    free(ev->doms);
    free(ev);
}

int msm_eval_put(msm_eval *ev, uint32_t type, const void *obj, size_t size)
{
    if (!ev || !obj)
        return msm_fail(NULL, MSM_EINVAL, "eval_put: %s is NULL", !ev ? "ev" : "obj");
    size_t want = msm_obj_size(type);
    if (!want)
        return msm_fail(NULL, MSM_EINVAL, "eval_put: bad object type %u", type);
    if (size != want)
        return msm_fail(NULL, MSM_ESIZE, "%s: size %zu, expected %zu", msm_objtype_name(type),
                        size, want);
    ev_obj norm;
    int rc = msm_obj_validate(NULL, type, obj, &norm);
    if (rc)
        return rc;
    if (ev->sealed)
        return msm_fail(NULL, MSM_ESTATE, "eval_put: the evaluation is sealed");
    rc = msm_tbl_put(&ev->pol.t[type], &norm);
    if (rc == MSM_ENOSPC)
        return msm_fail(NULL, rc, "%s table full (%u)", msm_objtype_name(type),
                        ev->pol.t[type].limit);
    if (rc)
        return msm_fail(NULL, rc, "out of memory");
    return MSM_OK;
}

int msm_eval_seal(msm_eval *ev, msm_commit_error *err, size_t err_size)
{
    if (!ev)
        return msm_fail(NULL, MSM_EINVAL, "eval_seal: ev is NULL");
    if (err && err_size != sizeof(msm_commit_error))
        return msm_fail(NULL, MSM_ESIZE, "msm_commit_error: size %zu, expected %zu", err_size,
                        sizeof(msm_commit_error));
    if (ev->sealed)
        return msm_fail(NULL, MSM_ESTATE, "eval_seal: already sealed");
    msm_commit_error local;
    msm_commit_error *e = err ? err : &local;
    memset(e, 0, sizeof *e);
    e->domid = MSM_DOMID_INVALID;
    int rc = msm_policy_resolve(NULL, &ev->pol, &ev->res, e);
    if (rc)
        return rc;
    uint32_t ntags = ev->pol.t[MSM_OBJ_TAG].n;
    ev->running = calloc((size_t)ntags + 1, sizeof *ev->running);
    ev->aggregate = calloc((size_t)ntags + 1, sizeof *ev->aggregate);
    if (!ev->running || !ev->aggregate) {
        free(ev->running);
        free(ev->aggregate);
        ev->running = ev->aggregate = NULL;
        msm_resolved_free(&ev->res);
        return msm_fail(NULL, MSM_ENOMEM, "out of memory");
    }
    ev->sealed = 1;
    return MSM_OK;
}

static int event_valid(const msm_event *e, uint32_t i)
{
    if (e->kind < MSM_EV_HYPERCALL || e->kind > MSM_EV_DESTROY)
        return msm_fail(NULL, MSM_EINVAL, "event %u: bad kind %u", i, e->kind);
    if (e->domid > MSM_DOMID_MAX)
        return msm_fail(NULL, MSM_EINVAL, "event %u: bad domid %u", i, e->domid);
    if ((e->kind == MSM_EV_START || e->kind == MSM_EV_DESTROY) && e->domid == 0)
        return msm_fail(NULL, MSM_EINVAL, "event %u: dom0 neither starts nor is destroyed", i);
    if (e->kind == MSM_EV_CHANNEL) {
        if (e->a != MSM_CHAN_EVTCHN && e->a != MSM_CHAN_GRANT)
            return msm_fail(NULL, MSM_EINVAL, "event %u: bad channel kind %u", i, e->a);
        if (e->b > MSM_DOMID_MAX || e->b == e->domid)
            return msm_fail(NULL, MSM_EINVAL, "event %u: bad channel peer %u", i, e->b);
    }
    return MSM_OK;
}

static void ev_destroy(msm_eval *ev, ev_dom *d)
{
    msm_cw_release(&ev->pol, &ev->res, ev->running, ev->aggregate, d->tag);
    d->tag = EV_DEAD;
    d->prof = NULL;
    ev->n_live--;
}

static uint32_t ev_start(msm_eval *ev, ev_dom *d, const msm_uuid *uuid)
{
    if (d->tag >= 0)
        ev_destroy(ev, d);
    const msm_policy *p = &ev->pol;
    int64_t b = msm_find_uuid(&p->t[MSM_OBJ_BINDING], uuid);
    if (b < 0)
        return MSM_EVAL_DENY_UNLABELLED;
    const msm_binding *bd = msm_tbl_at(&p->t[MSM_OBJ_BINDING], (uint32_t)b);
    int64_t sl = msm_find_uuid(&p->t[MSM_OBJ_SECLABEL], &bd->seclabel);
    if (sl < 0) /* cannot happen after seal; kept so a dangling binding never reads garbage */
        return MSM_EVAL_DENY_UNLABELLED;
    int32_t tag = ev->res.sl_tag[sl];
    if (msm_cw_admit(p, &ev->res, ev->running, ev->aggregate, tag))
        return MSM_EVAL_DENY_CONFLICT;
    const msm_seclabel *l = msm_tbl_at(&p->t[MSM_OBJ_SECLABEL], (uint32_t)sl);
    d->prof = msm_tbl_at(&p->t[MSM_OBJ_PROFILE], (uint32_t)ev->res.sl_profile[sl]);
    d->window = 0;
    d->wcount = 0;
    d->max_rate = l->max_rate;
    d->role = l->role;
    d->tag = tag;
    ev->n_live++;
    return MSM_EVAL_ALLOW;
}

/* One end of a channel under the label rule: dom0 always, else its staged profile must
 * allow event_channel_op. */
static inline int ev_end_ok(const ev_dom *d)
{
    return d->tag == EV_DOM0 || ((d->prof->hypercalls >> MSM_HC_EVENT_CHANNEL_OP) & 1u);
}

static uint32_t ev_channel(const msm_eval *ev, const ev_dom *src, const ev_dom *dst)
{
    if (src->tag == EV_DEAD || dst->tag == EV_DEAD)
        return MSM_EVAL_NOT_RUNNING;
    int by_tag = src->tag == EV_DOM0 || dst->tag == EV_DOM0 || src->tag == dst->tag;
    if (!by_tag && (src->role == MSM_ROLE_SECURITY || dst->role == MSM_ROLE_SECURITY) &&
        !msm_tags_share_set(&ev->pol, &ev->res, ev->res.ncm_off, ev->res.ncm_list, src->tag,
                            dst->tag))
        by_tag = 1;
    return by_tag && ev_end_ok(src) && ev_end_ok(dst) ? MSM_EVAL_ALLOW : MSM_EVAL_DENY_CHANNEL;
}

static uint32_t ev_device(const msm_eval *ev, const ev_dom *d, uint32_t bdf)
{
    if (d->tag == EV_DEAD)
        return MSM_EVAL_NOT_RUNNING;
    if (d->tag == EV_DOM0)
        return MSM_EVAL_DENY_DEVICE;
    const msm_table *devs = &ev->pol.t[MSM_OBJ_DEVICE];
    int64_t i = msm_tbl_find(devs, NULL, bdf, NULL);
    if (i < 0)
        return MSM_EVAL_DENY_DEVICE;
    const msm_device *dev = msm_tbl_at(devs, (uint32_t)i);
    const msm_uuid *tag = msm_tbl_at(&ev->pol.t[MSM_OBJ_TAG], (uint32_t)d->tag);
    return memcmp(&dev->tag, tag, sizeof *tag) == 0 ? MSM_EVAL_ALLOW : MSM_EVAL_DENY_DEVICE;
}

/* The hypercall steps of msm_decide on the evaluation's own window. */
static inline uint32_t ev_hypercall(ev_dom *d, uint32_t nr, uint32_t subop, uint64_t now_ns)
{
    if (MSM_UNLIKELY(d->tag < 0))
        return d->tag == EV_DOM0 ? MSM_EVAL_ALLOW : MSM_EVAL_NOT_RUNNING;
    uint64_t w = now_ns / 1000000u;
    if (w > d->window) {
        d->window = w;
        d->wcount = 0;
    }
    d->wcount++;
    if (msm_profile_decision(d->prof, nr, subop) != MSM_ALLOW)
        return MSM_EVAL_DENY_PROFILE;
    if (d->wcount > d->max_rate)
        return MSM_EVAL_DENY_RATE;
    return MSM_EVAL_ALLOW;
}

int msm_eval_run(msm_eval *ev, const msm_event *events, size_t event_size, uint32_t n,
                 uint8_t *decisions, msm_eval_counts *counts, size_t counts_size)
{
    if (!ev)
        return msm_fail(NULL, MSM_EINVAL, "eval_run: ev is NULL");
    if (n && (!events || !decisions))
        return msm_fail(NULL, MSM_EINVAL, "eval_run: %s is NULL",
                        !events ? "events" : "decisions");
    if (event_size != sizeof(msm_event))
        return msm_fail(NULL, MSM_ESIZE, "msm_event: size %zu, expected %zu", event_size,
                        sizeof(msm_event));
    if (counts && counts_size != sizeof(msm_eval_counts))
        return msm_fail(NULL, MSM_ESIZE, "msm_eval_counts: size %zu, expected %zu",
                        counts_size, sizeof(msm_eval_counts));
    if (!ev->sealed)
        return msm_fail(NULL, MSM_ESTATE, "eval_run: the evaluation is not sealed");
    for (uint32_t i = 0; i < n; i++) {
        int rc = event_valid(&events[i], i);
        if (rc)
            return rc;
    }
    uint64_t by[MSM_EVAL_DECISIONS] = {0};
    ev_dom *doms = ev->doms;
    for (uint32_t i = 0; i < n; i++) {
        const msm_event *e = &events[i];
        ev_dom *d = &doms[e->domid];
        uint32_t dec;
        if (MSM_LIKELY(e->kind == MSM_EV_HYPERCALL)) {
            dec = ev_hypercall(d, e->a, e->b, e->ts_ns);
        } else {
            switch (e->kind) {
            case MSM_EV_CHANNEL: dec = ev_channel(ev, d, &doms[e->b]); break;
            case MSM_EV_DEVICE: dec = ev_device(ev, d, e->a); break;
            case MSM_EV_START: dec = ev_start(ev, d, &e->uuid); break;
            default:
                if (d->tag == EV_DEAD) {
                    dec = MSM_EVAL_NOT_RUNNING;
                } else {
                    ev_destroy(ev, d);
                    dec = MSM_EVAL_ALLOW;
                }
                break;
            }
        }
        decisions[i] = (uint8_t)dec;
        by[dec]++;
    }
    if (counts) {
        memset(counts, 0, sizeof *counts);
        counts->events = n;
        memcpy(counts->by_decision, by, sizeof by);
        counts->live_domains = ev->n_live;
    }
    return MSM_OK;
}

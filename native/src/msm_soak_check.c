/*
 * msm_soak_check.c -- an invariant checker of the MSM's allowed decisions, written
 * apart from the engine: it includes msm.h only, keeps its own copy of the policy
 * input objects and its own tables, and re-derives every domain's label from its
 * binding (never from the engine's domain table).  The soak feeds it every allowed
 * decision (msm_event); a decision the policy forbids is a leak.  The rules are
 * those of msm.h restated: channels stay inside a tag except with dom0 or a
 * SECURITY-role domain outside its no-communication sets, and never touch a domain
 * whose profile lacks event_channel_op (interface 1.3); devices go to their
 * tag; no two tags of a no-coresidence set are live at once; calls stay inside the
 * SecLabel's profile and sub-ops and under max_rate per 1 ms window.
 *
 * The per-event path is a domid-indexed array and a few bit tests; lookups by
 * uuid (linear scans) happen only when a domain starts.
 */
#include <stdlib.h>
#include <string.h>

#include "msm.h"

/* Hypercalls whose sub-op is part of the profile, from msm.h's numbers. */
static const uint64_t subop_calls =
    (1ull << MSM_HC_PLATFORM_OP) | (1ull << MSM_HC_MEMORY_OP) | (1ull << MSM_HC_GRANT_TABLE_OP) |
    (1ull << MSM_HC_VCPU_OP) | (1ull << MSM_HC_MMUEXT_OP) | (1ull << MSM_HC_XSM_OP) |
    (1ull << MSM_HC_SCHED_OP) | (1ull << MSM_HC_CALLBACK_OP) |
    (1ull << MSM_HC_EVENT_CHANNEL_OP) | (1ull << MSM_HC_PHYSDEV_OP) | (1ull << MSM_HC_HVM_OP) |
    (1ull << MSM_HC_SYSCTL) | (1ull << MSM_HC_DOMCTL) | (1ull << MSM_HC_DM_OP);

#define NO_DOMAIN (-2)   /* domid not live           */
#define DOM0 (-1)        /* domid 0: privileged      */

typedef struct cdom {
    int32_t tag;               /* tag index, DOM0 or NO_DOMAIN; -3 = live, unlabelled */
    uint32_t role;
    const msm_profile *prof;   /* NULL when unlabelled */
    uint64_t max_rate;
    uint64_t window, count;    /* allowed calls in the current 1 ms window */
} cdom;

#define UNLABELLED (-3)

typedef struct objs {
    void *data;
    uint32_t n, cap, esz, limit;
} objs;

struct msm_checker {
    objs t[7];                 /* by msm_objtype */
    int compiled;
    uint32_t ntags;
    uint8_t *nocores, *nocomm; /* ntags x ntags: 1 when both tags share a set */
    uint32_t *live_per_tag;
    cdom *doms;                /* MSM_DOMID_MAX + 1 */
    msm_check_result res;
};

static const size_t obj_size[7] = {0, sizeof(msm_profile), sizeof(msm_tag),
                                   sizeof(msm_conflict), sizeof(msm_seclabel),
                                   sizeof(msm_binding), sizeof(msm_device)};
static const uint32_t obj_limit[7] = {0, MSM_MAX_PROFILES, MSM_MAX_TAGS, MSM_MAX_CONFLICTS,
                                      MSM_MAX_SECLABELS, MSM_MAX_BINDINGS, MSM_MAX_DEVICES};

static void *at(const objs *o, uint32_t i)
{
    return (uint8_t *)o->data + (size_t)i * o->esz;
}

int msm_checker_new(msm_checker **out)
{
    if (!out)
        return MSM_EINVAL;
    msm_checker *c = calloc(1, sizeof *c);
    if (!c)
        return MSM_ENOMEM;
    c->doms = malloc(((size_t)MSM_DOMID_MAX + 1) * sizeof *c->doms);
    if (!c->doms) {
        free(c);
        return MSM_ENOMEM;
    }
    for (uint32_t i = 0; i <= MSM_DOMID_MAX; i++)
        c->doms[i].tag = NO_DOMAIN;
    c->doms[0].tag = DOM0;
    for (uint32_t t = 1; t <= 6; t++) {
        c->t[t].esz = (uint32_t)obj_size[t];
        c->t[t].limit = obj_limit[t];
    }
    *out = c;
    return MSM_OK;
}

void msm_checker_free(msm_checker *c)
{
    if (!c)
        return;
    for (uint32_t t = 1; t <= 6; t++)
        free(c->t[t].data);
    free(c->nocores);
    free(c->nocomm);
    free(c->live_per_tag);
    free(c->doms);
    free(c);
}

int msm_checker_put(msm_checker *c, uint32_t type, const void *obj, size_t size)
{
    if (!c || !obj || type < 1 || type > 6)
        return MSM_EINVAL;
    if (size != obj_size[type])
        return MSM_ESIZE;
    if (c->compiled)
        return MSM_ESTATE;
    objs *o = &c->t[type];
    if (o->n >= o->limit)
        return MSM_ENOSPC;
    if (o->n == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 16;
        void *d = realloc(o->data, (size_t)cap * o->esz);
        if (!d)
            return MSM_ENOMEM;
        o->data = d;
        o->cap = cap;
    }
    memcpy(at(o, o->n++), obj, o->esz);
    return MSM_OK;
}

static int64_t find_uuid(const objs *o, const msm_uuid *u)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (memcmp(at(o, i), u, sizeof *u) == 0)
            return i;
    return -1;
}

/* The policy is frozen at the first event: conflict sets become tag x tag matrices. */
static int compile(msm_checker *c)
{
    uint32_t n = c->t[MSM_OBJ_TAG].n;
    c->ntags = n;
    c->nocores = calloc((size_t)n * n + 1, 1);
    c->nocomm = calloc((size_t)n * n + 1, 1);
    c->live_per_tag = calloc((size_t)n + 1, sizeof *c->live_per_tag);
    if (!c->nocores || !c->nocomm || !c->live_per_tag)
        return MSM_ENOMEM;
    const objs *cs = &c->t[MSM_OBJ_CONFLICT];
    for (uint32_t i = 0; i < cs->n; i++) {
        const msm_conflict *set = at(cs, i);
        uint8_t *m = set->level == MSM_CONFLICT_NO_CORESIDENCE ? c->nocores : c->nocomm;
        uint32_t k = set->ntags <= MSM_MAX_SET_TAGS ? set->ntags : MSM_MAX_SET_TAGS;
        for (uint32_t a = 0; a < k; a++) {
            int64_t ta = find_uuid(&c->t[MSM_OBJ_TAG], &set->tags[a]);
            for (uint32_t b = 0; b < k && ta >= 0; b++) {
                int64_t tb = find_uuid(&c->t[MSM_OBJ_TAG], &set->tags[b]);
                if (tb >= 0 && ta != tb)
                    m[(size_t)ta * n + (size_t)tb] = 1;
            }
        }
    }
    c->compiled = 1;
    return MSM_OK;
}

static void leak(msm_checker *c, uint32_t rule, const msm_event *e)
{
    c->res.leaks++;
    c->res.by_rule[rule]++;
    if (c->res.n_first < MSM_LEAK_FIRST) {
        msm_leak *l = &c->res.first[c->res.n_first++];
        l->rule = rule;
        l->event = *e;
    }
}

static int in_profile(const msm_profile *p, uint32_t nr, uint32_t subop)
{
    if (nr >= MSM_NR_HYPERCALLS || !((p->hypercalls >> nr) & 1u))
        return 0;
    if (!((subop_calls >> nr) & 1u))
        return 1;
    return subop < MSM_SUBOP_BITS && ((p->subops[nr][subop / 64] >> (subop % 64)) & 1u);
}

static void start(msm_checker *c, const msm_event *e)
{
    cdom *d = &c->doms[e->domid];
    if (d->tag != NO_DOMAIN) {
        leak(c, MSM_LEAK_UNKNOWN, e);
        return;
    }
    memset(d, 0, sizeof *d);
    d->tag = UNLABELLED;
    int64_t b = find_uuid(&c->t[MSM_OBJ_BINDING], &e->uuid);
    const msm_binding *bd = b >= 0 ? at(&c->t[MSM_OBJ_BINDING], (uint32_t)b) : NULL;
    int64_t l = bd ? find_uuid(&c->t[MSM_OBJ_SECLABEL], &bd->seclabel) : -1;
    const msm_seclabel *sl = l >= 0 ? at(&c->t[MSM_OBJ_SECLABEL], (uint32_t)l) : NULL;
    int64_t p = sl ? find_uuid(&c->t[MSM_OBJ_PROFILE], &sl->profile) : -1;
    int64_t t = sl ? find_uuid(&c->t[MSM_OBJ_TAG], &sl->tag) : -1;
    if (p < 0 || t < 0) {
        leak(c, MSM_LEAK_UNLABELLED, e);
        return;
    }
    const uint8_t *row = &c->nocores[(size_t)t * c->ntags];
    for (uint32_t o = 0; o < c->ntags; o++)
        if (row[o] && c->live_per_tag[o]) {
            leak(c, MSM_LEAK_CORESIDENCE, e);
            break;
        }
    d->tag = (int32_t)t;
    d->role = sl->role;
    d->prof = at(&c->t[MSM_OBJ_PROFILE], (uint32_t)p);
    d->max_rate = sl->max_rate;
    c->live_per_tag[t]++;
}

static void destroy(msm_checker *c, const msm_event *e)
{
    cdom *d = &c->doms[e->domid];
    if (d->tag == NO_DOMAIN || d->tag == DOM0) {
        leak(c, MSM_LEAK_UNKNOWN, e);
        return;
    }
    if (d->tag >= 0)
        c->live_per_tag[d->tag]--;
    d->tag = NO_DOMAIN;
}

/* The label half of the channel rule, read apart from the engine: an end other than dom0
 * holds a channel only when its SecLabel's profile lists hypercall 32 (event_channel_op;
 * the number from msm.h), for a grant channel as for an event channel. */
static int may_hold_channel(const cdom *d)
{
    if (d->tag == DOM0)
        return 1;
    return d->prof != NULL && ((d->prof->hypercalls >> MSM_HC_EVENT_CHANNEL_OP) & 1u) != 0;
}

static void channel(msm_checker *c, const msm_event *e)
{
    if (e->b > MSM_DOMID_MAX || c->doms[e->b].tag == NO_DOMAIN) {
        leak(c, MSM_LEAK_UNKNOWN, e);
        return;
    }
    const cdom *s = &c->doms[e->domid], *d = &c->doms[e->b];
    if (!may_hold_channel(s) || !may_hold_channel(d)) {
        leak(c, MSM_LEAK_CHANNEL, e);
        return;
    }
    if (s->tag == DOM0 || d->tag == DOM0)
        return;
    if (s->tag >= 0 && s->tag == d->tag)
        return;
    if (s->tag >= 0 && d->tag >= 0 &&
        (s->role == MSM_ROLE_SECURITY || d->role == MSM_ROLE_SECURITY) &&
        !c->nocomm[(size_t)s->tag * c->ntags + (size_t)d->tag])
        return;
    leak(c, MSM_LEAK_CHANNEL, e);
}

static void device(msm_checker *c, const msm_event *e)
{
    const objs *dv = &c->t[MSM_OBJ_DEVICE];
    const cdom *d = &c->doms[e->domid];
    for (uint32_t i = 0; i < dv->n; i++) {
        const msm_device *dev = at(dv, i);
        if (dev->bdf != e->a)
            continue;
        int64_t t = find_uuid(&c->t[MSM_OBJ_TAG], &dev->tag);
        if (d->tag < 0 || t != d->tag)
            leak(c, MSM_LEAK_DEVICE, e);
        return;
    }
    leak(c, MSM_LEAK_DEVICE, e); /* not a device of the policy */
}

static void hypercall(msm_checker *c, const msm_event *e)
{
    cdom *d = &c->doms[e->domid];
    if (d->tag == DOM0)
        return;
    if (!d->prof || !in_profile(d->prof, e->a, e->b)) {
        leak(c, MSM_LEAK_PROFILE, e);
        return;
    }
    uint64_t w = e->ts_ns / 1000000u;
    if (w > d->window) {
        d->window = w;
        d->count = 0;
    }
    if (++d->count > d->max_rate)
        leak(c, MSM_LEAK_RATE, e);
}

void msm_checker_feed(void *user, const msm_event *ev, uint32_t n)
{
    msm_checker *c = user;
    if (!c->compiled && compile(c) != MSM_OK) {
        /* Without memory nothing can be checked: every event counts as a leak. */
        for (uint32_t i = 0; i < n; i++)
            leak(c, MSM_LEAK_UNKNOWN, &ev[i]);
        return;
    }
    c->res.events += n;
    for (uint32_t i = 0; i < n; i++) {
        const msm_event *e = &ev[i];
        if (e->domid > MSM_DOMID_MAX) {
            leak(c, MSM_LEAK_UNKNOWN, e);
            continue;
        }
        if (e->kind == MSM_EV_START) {
            start(c, e);
            continue;
        }
        if (c->doms[e->domid].tag == NO_DOMAIN) {
            leak(c, MSM_LEAK_UNKNOWN, e);
            continue;
        }
        switch (e->kind) {
        case MSM_EV_HYPERCALL: hypercall(c, e); break;
        case MSM_EV_CHANNEL: channel(c, e); break;
        case MSM_EV_DEVICE: device(c, e); break;
        case MSM_EV_DESTROY: destroy(c, e); break;
        default: leak(c, MSM_LEAK_UNKNOWN, e); break;
        }
    }
}

int msm_checker_result(const msm_checker *c, msm_check_result *out, size_t out_size)
{
    if (!c || !out)
        return MSM_EINVAL;
    if (out_size != sizeof *out)
        return MSM_ESIZE;
    *out = c->res;
    return MSM_OK;
}

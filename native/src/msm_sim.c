/* msm_sim.c -- the sim backend: open/close, info, domain table and lifecycle. */
#include <stdio.h>
#include <stdlib.h>

#include "msm_sim.h"

#define DOM0_LOAD_PERMILLE 50u

int msm_sim_config_default(msm_sim_config *cfg, size_t cfg_size)
{
    if (!cfg)
        return MSM_EINVAL;
    if (cfg_size != sizeof *cfg)
        return MSM_ESIZE;
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->host_mem_kb = 16ull * 1024 * 1024;
    cfg->host_cpus = 8;
    cfg->ring_capacity = 65536;
    cfg->dom0_mem_kb = 1024ull * 1024;
    return MSM_OK;
}

static int config_ok(const msm_sim_config *c)
{
    if (c->host_mem_kb % MSM_EXTENT_KB || c->host_mem_kb < 4ull * MSM_EXTENT_KB ||
        c->host_mem_kb > (1ull << 30))
        return MSM_ERANGE;
    if (c->host_cpus < 1 || c->host_cpus > 1024)
        return MSM_ERANGE;
    if (c->ring_capacity < 16 || c->ring_capacity > (1u << 22) ||
        (c->ring_capacity & (c->ring_capacity - 1)))
        return MSM_ERANGE;
    if (c->dom0_mem_kb == 0 || c->dom0_mem_kb % MSM_EXTENT_KB ||
        c->dom0_mem_kb >= c->host_mem_kb)
        return MSM_ERANGE;
    return MSM_OK;
}

static void sim_close(msm_ctx *ctx)
{
    msm_sim *s = ctx->sim;
    if (s) {
        if (s->doms)
            for (uint32_t i = 0; i < MSM_MAX_DOMAINS; i++)
                free(s->doms[i].extents);
        msm_mem_free_all(s);
        msm_policy_free(&s->active);
        msm_policy_free(&s->staged);
        msm_resolved_free(&s->res);
        free(s->running);
        free(s->aggregate);
        free(s->doms);
        free(s->slot_of);
        free(s->order);
        free(s->free_slots);
        free(s->assigned);
        free(s->ring);
        free(s->calls);
        free(s);
    }
    free(ctx);
}

static void order_insert(msm_sim *s, uint16_t slot)
{
    uint32_t domid = s->doms[slot].domid, i = s->n_live;
    while (i > 0 && s->doms[s->order[i - 1]].domid > domid) {
        s->order[i] = s->order[i - 1];
        i--;
    }
    s->order[i] = slot;
    s->n_live++;
}

static void order_remove(msm_sim *s, uint16_t slot)
{
    uint32_t i = 0;
    while (i < s->n_live && s->order[i] != slot)
        i++;
    if (i == s->n_live)
        return;
    memmove(&s->order[i], &s->order[i + 1], (size_t)(s->n_live - i - 1) * sizeof *s->order);
    s->n_live--;
}

static int sim_init(msm_sim *s)
{
    msm_policy_init(&s->active);
    msm_policy_init(&s->staged);
    s->doms = calloc(MSM_MAX_DOMAINS, sizeof *s->doms);
    s->slot_of = malloc(((size_t)MSM_DOMID_MAX + 1) * sizeof *s->slot_of);
    s->order = malloc(MSM_MAX_DOMAINS * sizeof *s->order);
    s->free_slots = malloc(MSM_MAX_DOMAINS * sizeof *s->free_slots);
    s->assigned = malloc(MSM_MAX_DEVICES * sizeof *s->assigned);
    s->ring = calloc(s->cfg.ring_capacity, sizeof *s->ring);
    s->calls = calloc(MSM_CALLS_RING, sizeof *s->calls);
    s->running = calloc(1, sizeof *s->running);
    s->aggregate = calloc(1, sizeof *s->aggregate);
    msm_commit_error e;
    if (!s->doms || !s->slot_of || !s->order || !s->free_slots || !s->assigned || !s->ring ||
        !s->calls ||
        !s->running || !s->aggregate || msm_mem_init(s) || msm_policy_resolve(NULL, &s->active,
                                                                             &s->res, &e))
        return MSM_ENOMEM;
    for (uint32_t i = 0; i <= MSM_DOMID_MAX; i++)
        s->slot_of[i] = -1;
    for (uint32_t i = 0; i < MSM_MAX_DOMAINS; i++)
        s->free_slots[i] = (uint16_t)(MSM_MAX_DOMAINS - 1 - i);
    s->n_free_slots = MSM_MAX_DOMAINS;
    s->next_domid = 1;
    msm_rng_seed(s->rng, s->cfg.seed);

    uint16_t slot = s->free_slots[--s->n_free_slots];
    msm_dom *d0 = &s->doms[slot];
    d0->domid = 0;
    d0->state = MSM_STATE_RUNNING;
    d0->tag = d0->seclabel = -1;
    snprintf(d0->name, sizeof d0->name, "Domain-0");
    d0->guest_type = MSM_GUEST_PV;
    d0->os = MSM_OS_LINUX;
    d0->vcpus = d0->max_vcpus = s->cfg.host_cpus > 128 ? 128 : s->cfg.host_cpus;
    d0->load_permille = DOM0_LOAD_PERMILLE;
    d0->maxmem_kb = s->cfg.dom0_mem_kb;
    if (msm_mem_alloc(s, d0, (uint32_t)(s->cfg.dom0_mem_kb / MSM_EXTENT_KB)))
        return MSM_ENOMEM;
    s->slot_of[0] = (int16_t)slot;
    order_insert(s, slot);
    return MSM_OK;
}

static int sim_info(msm_ctx *ctx, msm_info *o)
{
    msm_sim *s = ctx->sim;
    memset(o, 0, sizeof *o);
    o->interface_version = MSM_INTERFACE_VERSION;
    o->backend = MSM_BACKEND_SIM;
    o->generation = s->generation;
    o->n_profiles = s->active.t[MSM_OBJ_PROFILE].n;
    o->n_tags = s->active.t[MSM_OBJ_TAG].n;
    o->n_conflicts = s->active.t[MSM_OBJ_CONFLICT].n;
    o->n_seclabels = s->active.t[MSM_OBJ_SECLABEL].n;
    o->n_bindings = s->active.t[MSM_OBJ_BINDING].n;
    o->n_devices = s->active.t[MSM_OBJ_DEVICE].n;
    o->n_domains = s->n_live;
    o->host_cpus = s->cfg.host_cpus;
    o->host_mem_kb = s->cfg.host_mem_kb;
    o->free_mem_kb = (uint64_t)s->n_ext_free * MSM_EXTENT_KB;
    o->now_ns = s->now_ns;
    o->ring_capacity = s->cfg.ring_capacity;
    o->ring_used = (uint32_t)(s->ring_tail - s->ring_head);
    o->ring_dropped = s->ring_dropped;
    o->hypercalls_checked = s->hc_checked;
    o->hypercalls_denied = s->hc_denied;
    o->channels_checked = s->ch_checked;
    o->channels_denied = s->ch_denied;
    o->pages_scrubbed = s->pages_scrubbed;
    o->txn_open = (uint32_t)s->txn_open;
    return MSM_OK;
}

static int find_dom(msm_ctx *ctx, uint32_t domid, msm_dom **out)
{
    *out = msm_sim_dom(ctx->sim, domid);
    if (!*out)
        return msm_fail(ctx, MSM_ENOENT, "no domain %u", domid);
    return MSM_OK;
}

/* Lookup of a domain other than dom0, which the toolstack may not pause or kill. */
static int find_domu(msm_ctx *ctx, uint32_t domid, const char *op, msm_dom **out)
{
    if (domid == 0)
        return msm_fail(ctx, MSM_EINVAL, "%s: not allowed on dom0", op);
    return find_dom(ctx, domid, out);
}

static int sim_create(msm_ctx *ctx, const msm_domain_config *c, uint32_t *domid)
{
    msm_sim *s = ctx->sim;
    for (uint32_t i = 0; i < s->n_live; i++) {
        const msm_dom *o = &s->doms[s->order[i]];
        if (memcmp(&o->uuid, &c->uuid, sizeof c->uuid) == 0)
            return msm_fail(ctx, MSM_EEXIST, "domain %u already has that uuid", o->domid);
        if (strncmp(o->name, c->name, MSM_NAME_LEN) == 0)
            return msm_fail(ctx, MSM_EEXIST, "domain %u is already named \"%.63s\"", o->domid,
                            o->name);
    }
    int32_t sl, tag;
    if (!msm_sim_bind(s, &c->uuid, &sl, &tag))
        return msm_fail(ctx, MSM_ENOLABEL, "domain \"%.63s\" has no SecLabel", c->name);
#if defined(MSM_TEST_INJECT_BUG) && (MSM_TEST_INJECT_BUG & 4)
    if (0) /* Test build only (tests/native/test_soak.py): the Chinese Wall is off. */
#else
    if (s->aggregate[tag] > 0)
#endif
        return msm_fail(ctx, MSM_ECONFLICT,
                        "domain \"%.63s\": tag \"%.63s\" is in a no-coresidence set with a "
                        "running domain",
                        c->name,
                        (const char *)msm_tbl_at(&s->active.t[MSM_OBJ_TAG], (uint32_t)tag) +
                            sizeof(msm_uuid));
    if (s->n_free_slots == 0)
        return msm_fail(ctx, MSM_ENOSPC, "domain table full (%d)", MSM_MAX_DOMAINS);
    uint64_t ext = c->mem_kb / MSM_EXTENT_KB + (c->mem_kb % MSM_EXTENT_KB != 0);
    if (ext > s->n_ext_free)
        return msm_fail(ctx, MSM_ENOSPC, "not enough host memory (%llu kB free)",
                        (unsigned long long)s->n_ext_free * MSM_EXTENT_KB);
    uint16_t slot = s->free_slots[s->n_free_slots - 1];
    msm_dom *d = &s->doms[slot];
    memset(d, 0, sizeof *d);
    if (msm_mem_alloc(s, d, (uint32_t)ext))
        return msm_fail(ctx, MSM_ENOMEM, "out of memory");
    s->n_free_slots--;
    msm_cw_admit(&s->active, &s->res, s->running, s->aggregate, tag);
    uint32_t id = s->next_domid;
    while (s->slot_of[id] >= 0)
        id = id >= MSM_DOMID_MAX ? 1 : id + 1;
    s->next_domid = id >= MSM_DOMID_MAX ? 1 : id + 1;
    d->domid = id;
    d->uuid = c->uuid;
    memcpy(d->name, c->name, MSM_NAME_LEN);
    d->guest_type = c->guest_type;
    d->os = c->os;
    d->vcpus = c->vcpus;
    d->max_vcpus = c->max_vcpus;
    d->load_permille = c->load_permille;
    d->maxmem_kb = c->maxmem_kb;
    d->state = (c->flags & MSM_CREATE_PAUSED) ? MSM_STATE_PAUSED : MSM_STATE_RUNNING;
    d->created_ns = s->now_ns;
    msm_sim_apply_label(s, d, sl);
    s->slot_of[id] = (int16_t)slot;
    order_insert(s, slot);
    *domid = id;
    return MSM_OK;
}

static int sim_pause(msm_ctx *ctx, uint32_t domid)
{
    msm_dom *d;
    int rc = find_domu(ctx, domid, "pause", &d);
    if (rc)
        return rc;
    if (d->state == MSM_STATE_SHUTDOWN)
        return msm_fail(ctx, MSM_ESTATE, "domain %u is shut down", domid);
    d->state = MSM_STATE_PAUSED;
    return MSM_OK;
}

static int sim_unpause(msm_ctx *ctx, uint32_t domid)
{
    msm_dom *d;
    int rc = find_domu(ctx, domid, "unpause", &d);
    if (rc)
        return rc;
    if (d->state == MSM_STATE_SHUTDOWN)
        return msm_fail(ctx, MSM_ESTATE, "domain %u is shut down", domid);
    if (d->stopped)
        return msm_fail(ctx, MSM_EVIOLATIONS,
                        "domain %u was stopped after %llu violations; reset them first", domid,
                        (unsigned long long)d->violations);
    d->state = MSM_STATE_RUNNING;
    return MSM_OK;
}

static int sim_shutdown(msm_ctx *ctx, uint32_t domid, uint32_t reason)
{
    msm_dom *d;
    int rc = find_domu(ctx, domid, "shutdown", &d);
    if (rc)
        return rc;
    if (d->state == MSM_STATE_SHUTDOWN)
        return msm_fail(ctx, MSM_ESTATE, "domain %u is already shut down", domid);
    d->state = MSM_STATE_SHUTDOWN;
    d->shutdown_reason = reason;
    return MSM_OK;
}

static int sim_reboot(msm_ctx *ctx, uint32_t domid)
{
    msm_sim *s = ctx->sim;
    msm_dom *d;
    int rc = find_domu(ctx, domid, "reboot", &d);
    if (rc)
        return rc;
    if (d->stopped)
        return msm_fail(ctx, MSM_EVIOLATIONS,
                        "domain %u was stopped by the module; reset its violations first", domid);
    uint32_t n = d->n_extents;
    msm_mem_release(s, d);
    if (msm_mem_alloc(s, d, n))
        return msm_fail(ctx, MSM_ENOMEM, "out of memory");
    d->cpu_ns = 0;
    d->window = d->wcount = 0;
    d->rate_acc = 0;
    d->burst_window = 0;
    d->shutdown_reason = 0;
    d->state = MSM_STATE_RUNNING;
    return MSM_OK;
}

static int sim_destroy(msm_ctx *ctx, uint32_t domid)
{
    msm_sim *s = ctx->sim;
    msm_dom *d;
    int rc = find_domu(ctx, domid, "destroy", &d);
    if (rc)
        return rc;
    uint16_t slot = (uint16_t)s->slot_of[domid];
    msm_calls_flush(s, d);
    msm_sim_release_devices(s, domid);
    msm_cw_release(&s->active, &s->res, s->running, s->aggregate, d->tag);
    msm_mem_release(s, d);
    order_remove(s, slot);
    s->slot_of[domid] = -1;
    s->free_slots[s->n_free_slots++] = slot;
    memset(d, 0, sizeof *d);
    return MSM_OK;
}

static void fill_info(const msm_dom *d, msm_domain_info *o)
{
    memset(o, 0, sizeof *o);
    o->domid = d->domid;
    o->state = d->state;
    o->uuid = d->uuid;
    memcpy(o->name, d->name, MSM_NAME_LEN);
    o->seclabel = d->sl_uuid;
    o->tag = d->tag_uuid;
    o->guest_type = d->guest_type;
    o->os = d->os;
    o->shutdown_reason = d->shutdown_reason;
    o->stopped_by_msm = d->stopped;
    o->cpu_ns = d->cpu_ns;
    o->cur_mem_kb = (uint64_t)d->n_extents * MSM_EXTENT_KB;
    o->max_mem_kb = d->maxmem_kb > o->cur_mem_kb ? d->maxmem_kb : o->cur_mem_kb;
    o->vcpus_online = d->vcpus;
    o->max_vcpus = d->max_vcpus;
    o->violations = d->violations;
    o->hypercalls = d->hypercalls;
    o->created_ns = d->created_ns;
}

static int sim_get(msm_ctx *ctx, uint32_t domid, msm_domain_info *out)
{
    msm_dom *d;
    if (find_dom(ctx, domid, &d))
        return MSM_ENOENT;
    fill_info(d, out);
    return MSM_OK;
}

static int sim_list(msm_ctx *ctx, msm_domain_info *out, uint32_t cap, uint32_t *n)
{
    msm_sim *s = ctx->sim;
    for (uint32_t i = 0; i < s->n_live && i < cap; i++)
        fill_info(&s->doms[s->order[i]], &out[i]);
    *n = s->n_live;
    return MSM_OK;
}

const msm_backend_ops msm_sim_ops = {
    .close = sim_close,
    .get_info = sim_info,
    .txn_begin = msm_sim_txn_begin,
    .txn_put = msm_sim_txn_put,
    .txn_delete = msm_sim_txn_delete,
    .txn_commit = msm_sim_txn_commit,
    .txn_abort = msm_sim_txn_abort,
    .policy_get = msm_sim_policy_get,
    .check_hypercall = msm_sim_check_hypercall,
    .check_channel = msm_sim_check_channel,
    .ring_drain = msm_sim_ring_drain,
    .reset_violations = msm_sim_reset_violations,
    .device_assign = msm_sim_device_assign,
    .device_release = msm_sim_device_release,
    .domain_create = sim_create,
    .domain_pause = sim_pause,
    .domain_unpause = sim_unpause,
    .domain_shutdown = sim_shutdown,
    .domain_reboot = sim_reboot,
    .domain_destroy = sim_destroy,
    .domain_get = sim_get,
    .domain_list = sim_list,
    .domain_write = msm_sim_domain_write,
    .domain_read = msm_sim_domain_read,
    .set_misbehaviour = msm_sim_set_misbehaviour_op,
    .sim_run = msm_sim_run_op,
    .calls_drain = msm_sim_calls_drain,
};

int msm_open_sim(const msm_sim_config *cfg, size_t cfg_size, msm_ctx **out)
{
    if (!out)
        return msm_fail(NULL, MSM_EINVAL, "out is NULL");
    *out = NULL;
    if (!cfg)
        return msm_fail(NULL, MSM_EINVAL, "cfg is NULL");
    if (cfg_size != sizeof *cfg)
        return msm_fail(NULL, MSM_ESIZE, "msm_sim_config: size %zu, expected %zu", cfg_size,
                        sizeof *cfg);
    int rc = config_ok(cfg);
    if (rc)
        return msm_fail(NULL, rc, "msm_sim_config: a value is out of range");
    msm_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return msm_fail(NULL, MSM_ENOMEM, "out of memory");
    ctx->ops = &msm_sim_ops;
    ctx->backend = MSM_BACKEND_SIM;
    ctx->sim = calloc(1, sizeof *ctx->sim);
    if (!ctx->sim) {
        free(ctx);
        return MSM_ENOMEM;
    }
    ctx->sim->cfg = *cfg;
    if (sim_init(ctx->sim)) {
        sim_close(ctx);
        return msm_fail(NULL, MSM_ENOMEM, "out of memory");
    }
    *out = ctx;
    return MSM_OK;
}

/*
 * msm_api.c -- the public entry points: argument checks common to both
 * backends (NULL, sizes, enums, ranges), then dispatch through the backend
 * function table.  Order of checks: ctx, pointers, sizes, then values in
 * parameter order; state checks happen in the backend afterwards.
 */
#include "msm_internal.h"

#define CTX_CHECK(ctx)                                                                   \
    do {                                                                                 \
        if (!(ctx))                                                                      \
            return MSM_EINVAL;                                                           \
        msm_clear_error(ctx);                                                            \
    } while (0)

#define NEED(ctx, ptr, what)                                                             \
    do {                                                                                 \
        if (!(ptr))                                                                      \
            return msm_fail((ctx), MSM_EINVAL, "%s is NULL", (what));                    \
    } while (0)

#define SIZE(ctx, got, want, what)                                                       \
    do {                                                                                 \
        if ((got) != (want))                                                             \
            return msm_fail((ctx), MSM_ESIZE, "%s: size %zu, expected %zu", (what),      \
                            (size_t)(got), (size_t)(want));                              \
    } while (0)

void msm_close(msm_ctx *ctx)
{
    if (ctx)
        ctx->ops->close(ctx);
}

int msm_get_info(msm_ctx *ctx, msm_info *out, size_t out_size)
{
    CTX_CHECK(ctx);
    NEED(ctx, out, "out");
    SIZE(ctx, out_size, sizeof(msm_info), "msm_info");
    return ctx->ops->get_info(ctx, out);
}

int msm_txn_begin(msm_ctx *ctx, uint32_t flags)
{
    CTX_CHECK(ctx);
    if (flags != MSM_TXN_COPY && flags != MSM_TXN_EMPTY)
        return msm_fail(ctx, MSM_EINVAL, "txn_begin: bad flags %u", flags);
    return ctx->ops->txn_begin(ctx, flags);
}

int msm_txn_put(msm_ctx *ctx, uint32_t type, const void *obj, size_t size)
{
    CTX_CHECK(ctx);
    NEED(ctx, obj, "obj");
    size_t want = msm_obj_size(type);
    if (!want)
        return msm_fail(ctx, MSM_EINVAL, "txn_put: bad object type %u", type);
    SIZE(ctx, size, want, msm_objtype_name(type));
    return ctx->ops->txn_put(ctx, type, obj, size);
}

int msm_txn_delete(msm_ctx *ctx, uint32_t type, const msm_uuid *id, uint32_t bdf)
{
    CTX_CHECK(ctx);
    if (!msm_obj_size(type))
        return msm_fail(ctx, MSM_EINVAL, "txn_delete: bad object type %u", type);
    if (type != MSM_OBJ_DEVICE)
        NEED(ctx, id, "id");
    return ctx->ops->txn_delete(ctx, type, type == MSM_OBJ_DEVICE ? NULL : id, bdf);
}

int msm_txn_commit(msm_ctx *ctx, msm_commit_error *err, size_t err_size)
{
    CTX_CHECK(ctx);
    if (err)
        SIZE(ctx, err_size, sizeof(msm_commit_error), "msm_commit_error");
    msm_commit_error local;
    memset(&local, 0, sizeof local);
    local.domid = MSM_DOMID_INVALID;
    int rc = ctx->ops->txn_commit(ctx, &local);
    if (err)
        *err = local;
    return rc;
}

int msm_txn_abort(msm_ctx *ctx)
{
    CTX_CHECK(ctx);
    return ctx->ops->txn_abort(ctx);
}

int msm_policy_get(msm_ctx *ctx, uint32_t type, uint32_t index, void *out, size_t size)
{
    CTX_CHECK(ctx);
    NEED(ctx, out, "out");
    size_t want = msm_obj_size(type);
    if (!want)
        return msm_fail(ctx, MSM_EINVAL, "policy_get: bad object type %u", type);
    SIZE(ctx, size, want, msm_objtype_name(type));
    return ctx->ops->policy_get(ctx, type, index, out, size);
}

int msm_check_hypercall(msm_ctx *ctx, uint32_t domid, uint32_t nr, uint32_t subop,
                        uint64_t now_ns, uint32_t *decision)
{
    CTX_CHECK(ctx);
    NEED(ctx, decision, "decision");
    return ctx->ops->check_hypercall(ctx, domid, nr, subop, now_ns, decision);
}

int msm_check_channel(msm_ctx *ctx, uint32_t kind, uint32_t src, uint32_t dst,
                      uint64_t now_ns, uint32_t *decision)
{
    CTX_CHECK(ctx);
    NEED(ctx, decision, "decision");
    if (kind != MSM_CHAN_EVTCHN && kind != MSM_CHAN_GRANT)
        return msm_fail(ctx, MSM_EINVAL, "check_channel: bad kind %u", kind);
    if (src == dst)
        return msm_fail(ctx, MSM_EINVAL, "check_channel: src == dst");
    return ctx->ops->check_channel(ctx, kind, src, dst, now_ns, decision);
}

int msm_ring_drain(msm_ctx *ctx, msm_violation *out, size_t rec_size, uint32_t max,
                   uint32_t *n, uint64_t *dropped)
{
    CTX_CHECK(ctx);
    NEED(ctx, out, "out");
    NEED(ctx, n, "n");
    SIZE(ctx, rec_size, sizeof(msm_violation), "msm_violation");
    return ctx->ops->ring_drain(ctx, out, max, n, dropped);
}

int msm_calls_drain(msm_ctx *ctx, msm_call_count *out, size_t rec_size, uint32_t max,
                    uint32_t *n, uint64_t *dropped)
{
    CTX_CHECK(ctx);
    NEED(ctx, out, "out");
    NEED(ctx, n, "n");
    SIZE(ctx, rec_size, sizeof(msm_call_count), "msm_call_count");
    if (!ctx->ops->calls_drain)
        return msm_fail(ctx, MSM_ENOSYS, "this backend keeps no allowed-call counters");
    return ctx->ops->calls_drain(ctx, out, max, n, dropped);
}

int msm_domain_reset_violations(msm_ctx *ctx, uint32_t domid)
{
    CTX_CHECK(ctx);
    return ctx->ops->reset_violations(ctx, domid);
}

int msm_device_assign(msm_ctx *ctx, uint32_t domid, uint32_t bdf)
{
    CTX_CHECK(ctx);
    return ctx->ops->device_assign(ctx, domid, bdf);
}

int msm_device_release(msm_ctx *ctx, uint32_t domid, uint32_t bdf)
{
    CTX_CHECK(ctx);
    return ctx->ops->device_release(ctx, domid, bdf);
}

static int config_check(msm_ctx *ctx, const msm_domain_config *c)
{
    if (msm_uuid_is_zero(&c->uuid))
        return msm_fail(ctx, MSM_EINVAL, "domain: the zero uuid is reserved for dom0");
    if (!msm_name_valid(c->name))
        return msm_fail(ctx, MSM_EINVAL, "domain: name must be 1..%d bytes, NUL-terminated",
                        MSM_NAME_LEN - 1);
    if (c->guest_type < MSM_GUEST_PV || c->guest_type > MSM_GUEST_HVM)
        return msm_fail(ctx, MSM_EINVAL, "domain: bad guest_type %u", c->guest_type);
    if (c->os != MSM_OS_LINUX && c->os != MSM_OS_WINDOWS)
        return msm_fail(ctx, MSM_EINVAL, "domain: bad os %u", c->os);
    if (c->mem_kb == 0)
        return msm_fail(ctx, MSM_ERANGE, "domain: mem_kb must be > 0");
    if (c->maxmem_kb < c->mem_kb)
        return msm_fail(ctx, MSM_ERANGE, "domain: maxmem_kb < mem_kb");
    if (c->max_vcpus < 1 || c->max_vcpus > 128)
        return msm_fail(ctx, MSM_ERANGE, "domain: max_vcpus %u not in 1..128", c->max_vcpus);
    if (c->vcpus < 1 || c->vcpus > c->max_vcpus)
        return msm_fail(ctx, MSM_ERANGE, "domain: vcpus %u not in 1..max_vcpus", c->vcpus);
    if (c->load_permille > 1000)
        return msm_fail(ctx, MSM_ERANGE, "domain: load_permille %u > 1000", c->load_permille);
    if (c->flags & ~MSM_CREATE_PAUSED)
        return msm_fail(ctx, MSM_EINVAL, "domain: bad flags 0x%x", c->flags);
    return MSM_OK;
}

int msm_domain_create(msm_ctx *ctx, const msm_domain_config *cfg, size_t cfg_size,
                      uint32_t *domid)
{
    CTX_CHECK(ctx);
    NEED(ctx, cfg, "cfg");
    NEED(ctx, domid, "domid");
    SIZE(ctx, cfg_size, sizeof(msm_domain_config), "msm_domain_config");
    int rc = config_check(ctx, cfg);
    if (rc)
        return rc;
    return ctx->ops->domain_create(ctx, cfg, domid);
}

int msm_domain_pause(msm_ctx *ctx, uint32_t domid)
{
    CTX_CHECK(ctx);
    return ctx->ops->domain_pause(ctx, domid);
}

int msm_domain_unpause(msm_ctx *ctx, uint32_t domid)
{
    CTX_CHECK(ctx);
    return ctx->ops->domain_unpause(ctx, domid);
}

int msm_domain_shutdown(msm_ctx *ctx, uint32_t domid, uint32_t reason)
{
    CTX_CHECK(ctx);
    if (reason > 5)
        return msm_fail(ctx, MSM_ERANGE, "shutdown: reason %u not in 0..5", reason);
    return ctx->ops->domain_shutdown(ctx, domid, reason);
}

int msm_domain_reboot(msm_ctx *ctx, uint32_t domid)
{
    CTX_CHECK(ctx);
    return ctx->ops->domain_reboot(ctx, domid);
}

int msm_domain_destroy(msm_ctx *ctx, uint32_t domid)
{
    CTX_CHECK(ctx);
    return ctx->ops->domain_destroy(ctx, domid);
}

int msm_domain_get(msm_ctx *ctx, uint32_t domid, msm_domain_info *out, size_t size)
{
    CTX_CHECK(ctx);
    NEED(ctx, out, "out");
    SIZE(ctx, size, sizeof(msm_domain_info), "msm_domain_info");
    return ctx->ops->domain_get(ctx, domid, out);
}

int msm_domain_list(msm_ctx *ctx, msm_domain_info *out, size_t size, uint32_t cap,
                    uint32_t *n)
{
    CTX_CHECK(ctx);
    if (cap > 0)
        NEED(ctx, out, "out");
    NEED(ctx, n, "n");
    SIZE(ctx, size, sizeof(msm_domain_info), "msm_domain_info");
    return ctx->ops->domain_list(ctx, out, cap, n);
}

int msm_domain_write(msm_ctx *ctx, uint32_t domid, uint64_t offset, const void *buf,
                     size_t len)
{
    CTX_CHECK(ctx);
    NEED(ctx, buf, "buf");
    return ctx->ops->domain_write(ctx, domid, offset, buf, len);
}

int msm_domain_read(msm_ctx *ctx, uint32_t domid, uint64_t offset, void *buf, size_t len)
{
    CTX_CHECK(ctx);
    NEED(ctx, buf, "buf");
    return ctx->ops->domain_read(ctx, domid, offset, buf, len);
}

int msm_sim_set_misbehaviour(msm_ctx *ctx, uint32_t domid, uint32_t kind,
                             uint32_t per_million)
{
    CTX_CHECK(ctx);
    if (kind < MSM_MIS_OUT_OF_PROFILE || kind > MSM_MIS_CROSS_TAG)
        return msm_fail(ctx, MSM_EINVAL, "misbehaviour: bad kind %u", kind);
    if (per_million > 1000000u)
        return msm_fail(ctx, MSM_ERANGE, "misbehaviour: %u per million > 1000000", per_million);
    return ctx->ops->set_misbehaviour(ctx, domid, kind, per_million);
}

int msm_sim_run(msm_ctx *ctx, uint64_t duration_ns, msm_run_counts *out, size_t out_size)
{
    CTX_CHECK(ctx);
    NEED(ctx, out, "out");
    SIZE(ctx, out_size, sizeof(msm_run_counts), "msm_run_counts");
    if (duration_ns > 60000000000ull)
        return msm_fail(ctx, MSM_ERANGE, "sim_run: duration > 60 s");
    return ctx->ops->sim_run(ctx, duration_ns, out);
}

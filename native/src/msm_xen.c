/*
 * msm_xen.c -- the xen backend: MSM sub-commands encoded in an xsm_op payload
 * (msm_xen.h) and issued through privcmd.  Domain lifecycle, guest memory and
 * the workload are the toolstack's business on Xen (xl), so those entry
 * points answer MSM_ENOSYS; domain statistics come from libxenstat.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "msm_internal.h"
#include "msm_xen.h"
#include "msm_xen_internal.h"

_Static_assert(sizeof(msm_xen_hdr) == 24, "msm_xen_hdr layout");
_Static_assert(sizeof(struct msm_privcmd_hypercall) == 48, "privcmd_hypercall layout");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the MSM wire format is little-endian; add byte swapping for this target"
#endif

static long real_ioctl(int fd, unsigned long request, void *arg, void *user)
{
    (void)user;
    long rc = ioctl(fd, request, arg);
    return rc < 0 ? -(long)errno : rc;
}

static void *payload(msm_xen *x)
{
    return x->buf + sizeof(msm_xen_hdr);
}

/* Sends the command in the buffer; MSM_OK or the hypervisor's / transport's status. */
static int xen_call(msm_ctx *ctx, uint32_t cmd, uint32_t size)
{
    msm_xen *x = ctx->xen;
    msm_xen_hdr h = {MSM_XEN_MAGIC, MSM_INTERFACE_VERSION, cmd, size, 0, 0};
    memcpy(x->buf, &h, sizeof h);
    struct msm_privcmd_hypercall call;
    memset(&call, 0, sizeof call);
    call.op = MSM_XEN_HYPERCALL;
    call.arg[0] = (uint64_t)(uintptr_t)x->buf;
    long rc = x->ioctl(x->fd, MSM_XEN_IOCTL_HYPERCALL, &call, x->user);
    if (rc < 0) {
        if (cmd == MSM_XEN_GET_VERSION && (rc == -ENOSYS || rc == -EINVAL))
            return msm_fail(ctx, MSM_ENOMSM, "hypervisor has no MSM module (xsm_op: %s)",
                            strerror((int)-rc));
        return msm_fail(ctx, MSM_EIO, "xsm_op command %u failed: %s", cmd, strerror((int)-rc));
    }
    memcpy(&h, x->buf, sizeof h);
    if (h.status < 0 || h.status > MSM_STATUS_MAX)
        return msm_fail(ctx, MSM_EIO, "xsm_op command %u: bad status %d", cmd, h.status);
    if (h.status != MSM_OK)
        return msm_fail(ctx, h.status, "hypervisor refused command %u: %s", cmd,
                        msm_status_name(h.status));
    return MSM_OK;
}

static void xen_close(msm_ctx *ctx)
{
    msm_xen *x = ctx->xen;
    if (x) {
        msm_xenstat_close(x);
        if (x->buf)
            munmap(x->buf, MSM_XEN_BUF_SIZE);
        if (x->fd >= 0)
            close(x->fd);
        free(x);
    }
    free(ctx);
}

static int xen_info(msm_ctx *ctx, msm_info *out)
{
    memset(payload(ctx->xen), 0, sizeof *out);
    int rc = xen_call(ctx, MSM_XEN_GET_INFO, sizeof *out);
    if (rc)
        return rc;
    memcpy(out, payload(ctx->xen), sizeof *out);
    out->backend = MSM_BACKEND_XEN;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    out->now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return MSM_OK;
}

static int send_u32(msm_ctx *ctx, uint32_t cmd, uint32_t value)
{
    msm_xen_u32 p = {value, 0};
    memcpy(payload(ctx->xen), &p, sizeof p);
    return xen_call(ctx, cmd, sizeof p);
}

static int xen_txn_begin(msm_ctx *ctx, uint32_t flags)
{
    return send_u32(ctx, MSM_XEN_TXN_BEGIN, flags);
}

static int xen_txn_put(msm_ctx *ctx, uint32_t type, const void *obj, size_t size)
{
    uint8_t *p = payload(ctx->xen);
    int rc = msm_obj_validate(ctx, type, obj, p + sizeof(msm_xen_obj));
    if (rc)
        return rc;
    msm_xen_obj o = {type, (uint32_t)size};
    memcpy(p, &o, sizeof o);
    return xen_call(ctx, MSM_XEN_TXN_PUT, (uint32_t)(sizeof o + size));
}

static int xen_txn_delete(msm_ctx *ctx, uint32_t type, const msm_uuid *id, uint32_t bdf)
{
    msm_xen_delete d;
    memset(&d, 0, sizeof d);
    d.type = type;
    if (id)
        d.id = *id;
    else
        d.bdf = bdf;
    memcpy(payload(ctx->xen), &d, sizeof d);
    return xen_call(ctx, MSM_XEN_TXN_DELETE, sizeof d);
}

static int xen_txn_commit(msm_ctx *ctx, msm_commit_error *err)
{
    memset(payload(ctx->xen), 0, sizeof *err);
    int rc = xen_call(ctx, MSM_XEN_TXN_COMMIT, sizeof *err);
    if (rc == MSM_OK || rc == MSM_EVALIDATE)
        memcpy(err, payload(ctx->xen), sizeof *err);
    return rc;
}

static int xen_txn_abort(msm_ctx *ctx)
{
    return xen_call(ctx, MSM_XEN_TXN_ABORT, 0);
}

static int xen_policy_get(msm_ctx *ctx, uint32_t type, uint32_t index, void *out, size_t size)
{
    uint8_t *p = payload(ctx->xen);
    msm_xen_get g = {type, index, (uint32_t)size, 0};
    memcpy(p, &g, sizeof g);
    memset(p + sizeof g, 0, size);
    int rc = xen_call(ctx, MSM_XEN_POLICY_GET, (uint32_t)(sizeof g + size));
    if (rc)
        return rc;
    memcpy(out, p + sizeof g, size);
    return MSM_OK;
}

#define DRAIN_CHUNK                                                                      \
    ((MSM_XEN_BUF_SIZE - sizeof(msm_xen_hdr) - sizeof(msm_xen_drain)) / sizeof(msm_violation))

static int xen_ring_drain(msm_ctx *ctx, msm_violation *out, uint32_t max, uint32_t *n,
                          uint64_t *dropped)
{
    uint8_t *p = payload(ctx->xen);
    uint32_t total = 0;
    uint64_t lost = 0;
    do {
        uint32_t want = max - total < DRAIN_CHUNK ? max - total : (uint32_t)DRAIN_CHUNK;
        msm_xen_drain d = {want, 0, 0};
        memcpy(p, &d, sizeof d);
        memset(p + sizeof d, 0, (size_t)want * sizeof(msm_violation));
        int rc = xen_call(ctx, MSM_XEN_RING_DRAIN,
                          (uint32_t)(sizeof d + (size_t)want * sizeof(msm_violation)));
        if (rc) {
            *n = total;
            return rc;
        }
        memcpy(&d, p, sizeof d);
        uint32_t got = d.n < want ? d.n : want;
        memcpy(out + total, p + sizeof d, (size_t)got * sizeof(msm_violation));
        total += got;
        lost += d.dropped;
        if (got < want)
            break;
    } while (total < max);
    *n = total;
    if (dropped)
        *dropped = lost;
    return MSM_OK;
}

static int xen_reset(msm_ctx *ctx, uint32_t domid)
{
    return send_u32(ctx, MSM_XEN_RESET_VIOLATIONS, domid);
}

static int send_device(msm_ctx *ctx, uint32_t cmd, uint32_t domid, uint32_t bdf)
{
    msm_xen_device d = {domid, bdf};
    memcpy(payload(ctx->xen), &d, sizeof d);
    return xen_call(ctx, cmd, sizeof d);
}

static int xen_assign(msm_ctx *ctx, uint32_t domid, uint32_t bdf)
{
    return send_device(ctx, MSM_XEN_DEVICE_ASSIGN, domid, bdf);
}

static int xen_release(msm_ctx *ctx, uint32_t domid, uint32_t bdf)
{
    return send_device(ctx, MSM_XEN_DEVICE_RELEASE, domid, bdf);
}

static int xen_check_hc(msm_ctx *ctx, uint32_t domid, uint32_t nr, uint32_t subop,
                        uint64_t now_ns, uint32_t *decision)
{
    msm_xen_check_hc c = {domid, nr, subop, 0, now_ns};
    memcpy(payload(ctx->xen), &c, sizeof c);
    int rc = xen_call(ctx, MSM_XEN_CHECK_HYPERCALL, sizeof c);
    if (rc)
        return rc;
    memcpy(&c, payload(ctx->xen), sizeof c);
    *decision = c.decision;
    return MSM_OK;
}

/* The hypervisor's MSM decides the channel; this library only asks.  The label-level
 * rule of interface 1.3 (event_channel_op at both ends) cannot be enforced here: guests
 * open channels with the hypervisor directly, never through dom0, so a hypervisor that
 * reports an interface below 1.3 applies the tag rule only (msm.h, docs/msm.md). */
static int xen_check_ch(msm_ctx *ctx, uint32_t kind, uint32_t src, uint32_t dst,
                        uint64_t now_ns, uint32_t *decision)
{
    msm_xen_check_ch c = {kind, src, dst, 0, now_ns};
    memcpy(payload(ctx->xen), &c, sizeof c);
    int rc = xen_call(ctx, MSM_XEN_CHECK_CHANNEL, sizeof c);
    if (rc)
        return rc;
    memcpy(&c, payload(ctx->xen), sizeof c);
    *decision = c.decision;
    return MSM_OK;
}

static int nosys(msm_ctx *ctx)
{
    return msm_fail(ctx, MSM_ENOSYS,
                    "not provided by the xen backend: use the toolstack (xl) on Xen");
}

static int xen_create(msm_ctx *ctx, const msm_domain_config *c, uint32_t *d)
{
    (void)c, (void)d;
    return nosys(ctx);
}
static int xen_domid_op(msm_ctx *ctx, uint32_t domid)
{
    (void)domid;
    return nosys(ctx);
}
static int xen_shutdown(msm_ctx *ctx, uint32_t domid, uint32_t reason)
{
    (void)domid, (void)reason;
    return nosys(ctx);
}
static int xen_write(msm_ctx *ctx, uint32_t domid, uint64_t off, const void *b, size_t l)
{
    (void)domid, (void)off, (void)b, (void)l;
    return nosys(ctx);
}
static int xen_read(msm_ctx *ctx, uint32_t domid, uint64_t off, void *b, size_t l)
{
    (void)domid, (void)off, (void)b, (void)l;
    return nosys(ctx);
}
static int xen_misbehave(msm_ctx *ctx, uint32_t domid, uint32_t kind, uint32_t pm)
{
    (void)domid, (void)kind, (void)pm;
    return nosys(ctx);
}
static int xen_run(msm_ctx *ctx, uint64_t duration, msm_run_counts *out)
{
    (void)duration, (void)out;
    return nosys(ctx);
}

static const msm_backend_ops xen_ops = {
    .close = xen_close,
    .get_info = xen_info,
    .txn_begin = xen_txn_begin,
    .txn_put = xen_txn_put,
    .txn_delete = xen_txn_delete,
    .txn_commit = xen_txn_commit,
    .txn_abort = xen_txn_abort,
    .policy_get = xen_policy_get,
    .check_hypercall = xen_check_hc,
    .check_channel = xen_check_ch,
    .ring_drain = xen_ring_drain,
    .reset_violations = xen_reset,
    .device_assign = xen_assign,
    .device_release = xen_release,
    .domain_create = xen_create,
    .domain_pause = xen_domid_op,
    .domain_unpause = xen_domid_op,
    .domain_shutdown = xen_shutdown,
    .domain_reboot = xen_domid_op,
    .domain_destroy = xen_domid_op,
    .domain_get = msm_xenstat_domain_get,
    .domain_list = msm_xenstat_domain_list,
    .domain_write = xen_write,
    .domain_read = xen_read,
    .set_misbehaviour = xen_misbehave,
    .sim_run = xen_run,
};

static int open_device(msm_ctx *ctx, const char *path)
{
    static const char *const defaults[] = {"/dev/xen/privcmd", "/proc/xen/privcmd"};
    msm_xen *x = ctx->xen;
    if (path) {
        x->fd = open(path, O_RDWR | O_CLOEXEC);
        if (x->fd < 0)
            return msm_fail(ctx, MSM_ENOXEN, "no privcmd device: %.120s: %s", path,
                            strerror(errno));
        return MSM_OK;
    }
    int e0 = 0;
    for (int i = 0; i < 2; i++) {
        x->fd = open(defaults[i], O_RDWR | O_CLOEXEC);
        if (x->fd >= 0)
            return MSM_OK;
        if (i == 0)
            e0 = errno;
    }
    return msm_fail(ctx, MSM_ENOXEN, "no privcmd device: %s: %s; %s: %s (not a Xen dom0?)",
                    defaults[0], strerror(e0), defaults[1], strerror(errno));
}

/* Hypercall buffers must never fault or be shared with a fork (libxencall's fallback). */
static int map_buffer(msm_ctx *ctx, int injected)
{
    msm_xen *x = ctx->xen;
    void *p = mmap(NULL, MSM_XEN_BUF_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    if (p == MAP_FAILED) {
        p = mmap(NULL, MSM_XEN_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
        if (p == MAP_FAILED)
            return msm_fail(ctx, MSM_ENOMEM, "hypercall buffer: mmap: %s", strerror(errno));
        if (mlock(p, MSM_XEN_BUF_SIZE) != 0 && !injected) {
            int e = errno;
            munmap(p, MSM_XEN_BUF_SIZE);
            return msm_fail(ctx, MSM_EIO, "hypercall buffer: mlock: %s", strerror(e));
        }
    }
    madvise(p, MSM_XEN_BUF_SIZE, MADV_DONTFORK);
    x->buf = p;
    return MSM_OK;
}

int msm_open_xen(const char *privcmd_path, msm_ioctl_fn ioctl_fn, void *user, msm_ctx **out)
{
    if (!out)
        return msm_fail(NULL, MSM_EINVAL, "out is NULL");
    *out = NULL;
    msm_ctx *ctx = calloc(1, sizeof *ctx);
    msm_xen *x = calloc(1, sizeof *x);
    if (!ctx || !x) {
        free(ctx);
        free(x);
        return msm_fail(NULL, MSM_ENOMEM, "out of memory");
    }
    ctx->ops = &xen_ops;
    ctx->backend = MSM_BACKEND_XEN;
    ctx->xen = x;
    x->fd = -1;
    x->ioctl = ioctl_fn ? ioctl_fn : real_ioctl;
    x->user = user;
    int rc = ioctl_fn ? MSM_OK : open_device(ctx, privcmd_path);
    if (!rc)
        rc = map_buffer(ctx, ioctl_fn != NULL);
    if (!rc) {
        msm_xen_version v = {0, 0};
        memcpy(payload(x), &v, sizeof v);
        rc = xen_call(ctx, MSM_XEN_GET_VERSION, sizeof v);
        if (!rc) {
            memcpy(&v, payload(x), sizeof v);
            if (v.version >> 16 != MSM_INTERFACE_VERSION >> 16)
                rc = msm_fail(ctx, MSM_EVERSION,
                              "hypervisor MSM interface 0x%08x, library 0x%08x (major differs)",
                              v.version, MSM_INTERFACE_VERSION);
        }
    }
    if (rc) {
        msm_fail(NULL, rc, "%s", ctx->err);
        xen_close(ctx);
        return rc;
    }
    *out = ctx;
    return MSM_OK;
}

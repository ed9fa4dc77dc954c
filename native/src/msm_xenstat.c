/*
 * msm_xenstat.c -- domain statistics of the xen backend through libxenstat,
 * loaded with dlopen at first use so that the library builds and runs on
 * hosts without Xen tools.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "msm_xen_internal.h"

#define XENSTAT_VCPU 0x1u

typedef struct msm_xenstat {
    void *lib;
    void *handle;
    void *(*init)(void);
    void (*uninit)(void *);
    void *(*get_node)(void *, unsigned int);
    void (*free_node)(void *);
    unsigned int (*num_domains)(void *);
    void *(*domain_by_index)(void *, unsigned int);
    unsigned int (*dom_id)(void *);
    char *(*dom_name)(void *);
    unsigned long long (*dom_cpu_ns)(void *);
    unsigned int (*dom_num_vcpus)(void *);
    void *(*dom_vcpu)(void *, unsigned int);
    unsigned int (*vcpu_online)(void *);
    unsigned long long (*dom_cur_mem)(void *);
    unsigned long long (*dom_max_mem)(void *);
    unsigned int (*dom_paused)(void *);
    unsigned int (*dom_shutdown)(void *);
    unsigned int (*dom_crashed)(void *);
} msm_xenstat;

void msm_xenstat_close(msm_xen *x)
{
    if (x->stat) {
        if (x->stat->handle)
            x->stat->uninit(x->stat->handle);
        dlclose(x->stat->lib);
        free(x->stat);
        x->stat = NULL;
    }
}

#define SYM(field, name)                                                                 \
    do {                                                                                 \
        *(void **)(&st->field) = dlsym(st->lib, name);                                   \
        if (!st->field)                                                                  \
            missing = name;                                                              \
    } while (0)

static int load(msm_ctx *ctx)
{
    msm_xen *x = ctx->xen;
    if (x->stat)
        return MSM_OK;
    msm_xenstat *st = calloc(1, sizeof *st);
    if (!st)
        return msm_fail(ctx, MSM_ENOMEM, "out of memory");
    st->lib = dlopen("libxenstat.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!st->lib)
        st->lib = dlopen("libxenstat.so", RTLD_NOW | RTLD_LOCAL);
    if (!st->lib) {
        free(st);
        return msm_fail(ctx, MSM_ENOSYS,
                        "domain statistics need libxenstat (libxenstat.so.4 not found)");
    }
    const char *missing = NULL;
    SYM(init, "xenstat_init");
    SYM(uninit, "xenstat_uninit");
    SYM(get_node, "xenstat_get_node");
    SYM(free_node, "xenstat_free_node");
    SYM(num_domains, "xenstat_node_num_domains");
    SYM(domain_by_index, "xenstat_node_domain_by_index");
    SYM(dom_id, "xenstat_domain_id");
    SYM(dom_name, "xenstat_domain_name");
    SYM(dom_cpu_ns, "xenstat_domain_cpu_ns");
    SYM(dom_num_vcpus, "xenstat_domain_num_vcpus");
    SYM(dom_vcpu, "xenstat_domain_vcpu");
    SYM(vcpu_online, "xenstat_vcpu_online");
    SYM(dom_cur_mem, "xenstat_domain_cur_mem");
    SYM(dom_max_mem, "xenstat_domain_max_mem");
    SYM(dom_paused, "xenstat_domain_paused");
    SYM(dom_shutdown, "xenstat_domain_shutdown");
    SYM(dom_crashed, "xenstat_domain_crashed");
    if (missing || !(st->handle = st->init())) {
        dlclose(st->lib);
        free(st);
        if (missing)
            return msm_fail(ctx, MSM_ENOSYS, "libxenstat lacks %s", missing);
        return msm_fail(ctx, MSM_EIO, "xenstat_init failed");
    }
    x->stat = st;
    return MSM_OK;
}

static void fill(const msm_xenstat *st, void *d, msm_domain_info *o)
{
    memset(o, 0, sizeof *o);
    o->domid = st->dom_id(d);
    const char *name = st->dom_name(d);
    if (name)
        snprintf(o->name, sizeof o->name, "%s", name);
    if (st->dom_shutdown(d)) {
        o->state = MSM_STATE_SHUTDOWN;
        o->shutdown_reason = st->dom_crashed(d) ? MSM_SHUTDOWN_CRASH : MSM_SHUTDOWN_POWEROFF;
    } else {
        o->state = st->dom_paused(d) ? MSM_STATE_PAUSED : MSM_STATE_RUNNING;
    }
    o->cpu_ns = st->dom_cpu_ns(d);
    o->cur_mem_kb = st->dom_cur_mem(d) / 1024u;
    unsigned long long max = st->dom_max_mem(d);
    o->max_mem_kb = max == (unsigned long long)-1 ? UINT64_MAX : max / 1024u;
    o->max_vcpus = st->dom_num_vcpus(d);
    for (unsigned int v = 0; v < o->max_vcpus; v++) {
        void *vc = st->dom_vcpu(d, v);
        o->vcpus_online += vc && st->vcpu_online(vc);
    }
}

/* Snapshot of all domains; `want` a domid or UINT32_MAX for a list. */
static int snapshot(msm_ctx *ctx, uint32_t want, msm_domain_info *out, uint32_t cap,
                    uint32_t *n)
{
    int rc = load(ctx);
    if (rc)
        return rc;
    msm_xenstat *st = ctx->xen->stat;
    void *node = st->get_node(st->handle, XENSTAT_VCPU);
    if (!node)
        return msm_fail(ctx, MSM_EIO, "xenstat_get_node failed");
    unsigned int count = st->num_domains(node);
    /* libxenstat lists domains in domid order (xc_domain_getinfolist). */
    uint32_t k = 0;
    for (unsigned int i = 0; i < count; i++) {
        void *d = st->domain_by_index(node, i);
        if (!d)
            continue;
        if (want != UINT32_MAX) {
            if (st->dom_id(d) == want) {
                fill(st, d, out);
                st->free_node(node);
                return MSM_OK;
            }
            continue;
        }
        if (k < cap)
            fill(st, d, &out[k]);
        k++;
    }
    st->free_node(node);
    if (want != UINT32_MAX)
        return msm_fail(ctx, MSM_ENOENT, "no domain %u", want);
    *n = k;
    return MSM_OK;
}

int msm_xenstat_domain_get(msm_ctx *ctx, uint32_t domid, msm_domain_info *out)
{
    if (domid == UINT32_MAX)
        return msm_fail(ctx, MSM_ENOENT, "no domain %u", domid);
    return snapshot(ctx, domid, out, 1, NULL);
}

int msm_xenstat_domain_list(msm_ctx *ctx, msm_domain_info *out, uint32_t cap, uint32_t *n)
{
    return snapshot(ctx, UINT32_MAX, out, cap, n);
}

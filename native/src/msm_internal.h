/*
 * msm_internal.h -- private types of the MSM library: the context, the
 * backend function table the public entry points dispatch through, the
 * policy tables and the sim's domain table.
 */
#ifndef XENON_MSM_INTERNAL_H
#define XENON_MSM_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "msm.h"

#if defined(__GNUC__)
#define MSM_LIKELY(x) __builtin_expect(!!(x), 1)
#define MSM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MSM_NOINLINE __attribute__((noinline))
#define MSM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MSM_LIKELY(x) (x)
#define MSM_UNLIKELY(x) (x)
#define MSM_NOINLINE
#define MSM_PRINTF(a, b)
#endif

/* Bit n set: hypercall n carries an enforced sub-op bitmap. */
#define MSM_SUBOP_MASK                                                                   \
    ((1ull << MSM_HC_PLATFORM_OP) | (1ull << MSM_HC_MEMORY_OP) |                         \
     (1ull << MSM_HC_GRANT_TABLE_OP) | (1ull << MSM_HC_VCPU_OP) |                        \
     (1ull << MSM_HC_MMUEXT_OP) | (1ull << MSM_HC_XSM_OP) | (1ull << MSM_HC_SCHED_OP) |  \
     (1ull << MSM_HC_CALLBACK_OP) | (1ull << MSM_HC_EVENT_CHANNEL_OP) |                  \
     (1ull << MSM_HC_PHYSDEV_OP) | (1ull << MSM_HC_HVM_OP) | (1ull << MSM_HC_SYSCTL) |   \
     (1ull << MSM_HC_DOMCTL) | (1ull << MSM_HC_DM_OP))

/* ------------------------------------------------------------ backends */

typedef struct msm_backend_ops {
    void (*close)(msm_ctx *ctx);
    int (*get_info)(msm_ctx *ctx, msm_info *out);
    int (*txn_begin)(msm_ctx *ctx, uint32_t flags);
    int (*txn_put)(msm_ctx *ctx, uint32_t type, const void *obj, size_t size);
    int (*txn_delete)(msm_ctx *ctx, uint32_t type, const msm_uuid *id, uint32_t bdf);
    int (*txn_commit)(msm_ctx *ctx, msm_commit_error *err);
    int (*txn_abort)(msm_ctx *ctx);
    int (*policy_get)(msm_ctx *ctx, uint32_t type, uint32_t index, void *out, size_t size);
    int (*check_hypercall)(msm_ctx *ctx, uint32_t domid, uint32_t nr, uint32_t subop,
                           uint64_t now_ns, uint32_t *decision);
    int (*check_channel)(msm_ctx *ctx, uint32_t kind, uint32_t src, uint32_t dst,
                         uint64_t now_ns, uint32_t *decision);
    int (*ring_drain)(msm_ctx *ctx, msm_violation *out, uint32_t max, uint32_t *n,
                      uint64_t *dropped);
    int (*reset_violations)(msm_ctx *ctx, uint32_t domid);
    int (*device_assign)(msm_ctx *ctx, uint32_t domid, uint32_t bdf);
    int (*device_release)(msm_ctx *ctx, uint32_t domid, uint32_t bdf);
    int (*domain_create)(msm_ctx *ctx, const msm_domain_config *cfg, uint32_t *domid);
    int (*domain_pause)(msm_ctx *ctx, uint32_t domid);
    int (*domain_unpause)(msm_ctx *ctx, uint32_t domid);
    int (*domain_shutdown)(msm_ctx *ctx, uint32_t domid, uint32_t reason);
    int (*domain_reboot)(msm_ctx *ctx, uint32_t domid);
    int (*domain_destroy)(msm_ctx *ctx, uint32_t domid);
    int (*domain_get)(msm_ctx *ctx, uint32_t domid, msm_domain_info *out);
    int (*domain_list)(msm_ctx *ctx, msm_domain_info *out, uint32_t cap, uint32_t *n);
    int (*domain_write)(msm_ctx *ctx, uint32_t domid, uint64_t off, const void *buf,
                        size_t len);
    int (*domain_read)(msm_ctx *ctx, uint32_t domid, uint64_t off, void *buf, size_t len);
    int (*set_misbehaviour)(msm_ctx *ctx, uint32_t domid, uint32_t kind,
                            uint32_t per_million);
    int (*sim_run)(msm_ctx *ctx, uint64_t duration_ns, msm_run_counts *out);
    /* NULL: the backend keeps no allowed-call counters (MSM_ENOSYS) */
    int (*calls_drain)(msm_ctx *ctx, msm_call_count *out, uint32_t max, uint32_t *n,
                       uint64_t *dropped);
} msm_backend_ops;

struct msm_sim;
struct msm_xen;

struct msm_ctx {
    const msm_backend_ops *ops;
    uint32_t backend;
    struct msm_sim *sim;
    struct msm_xen *xen;
    char err[192];
};

/* Records the detail of a failure and returns `status` (for `return msm_fail(...)`). */
int msm_fail(msm_ctx *ctx, int status, const char *fmt, ...) MSM_PRINTF(3, 4);
void msm_clear_error(msm_ctx *ctx);

/* ------------------------------------------------- object validation */

/* Size of the struct of object `type`, 0 for an unknown type. */
size_t msm_obj_size(uint32_t type);
/* Per-object checks of msm_txn_put; writes a normalised copy to `norm`
 * (bytes after a name's NUL and unused conflict slots zeroed). */
int msm_obj_validate(msm_ctx *ctx, uint32_t type, const void *obj, void *norm);
int msm_name_valid(const char *name);
int msm_uuid_is_zero(const msm_uuid *u);

/* -------------------------------------------------------- policy tables */

/* A table sorted by key: uuid at offset 0 (memcmp), or uint32 bdf at offset 0. */
typedef struct msm_table {
    uint8_t *data;
    uint32_t n, cap, limit;
    uint32_t esz;
    uint32_t bdf_key;
} msm_table;

#define MSM_NTYPES 6
typedef struct msm_policy {
    msm_table t[MSM_NTYPES + 1]; /* indexed by msm_objtype, [0] unused */
} msm_policy;

static inline void *msm_tbl_at(const msm_table *t, uint32_t i)
{
    return t->data + (size_t)i * t->esz;
}

void msm_policy_init(msm_policy *p);
void msm_policy_free(msm_policy *p);
int msm_policy_copy(msm_policy *dst, const msm_policy *src);
/* Index of `key` (uuid or bdf) or -1; `*ins` receives the insertion point. */
int64_t msm_tbl_find(const msm_table *t, const msm_uuid *uuid, uint32_t bdf, uint32_t *ins);
int msm_tbl_put(msm_table *t, const void *obj);   /* MSM_OK, MSM_ENOSPC, MSM_ENOMEM */
int msm_tbl_remove(msm_table *t, const msm_uuid *uuid, uint32_t bdf); /* or MSM_ENOENT */
int64_t msm_find_uuid(const msm_table *t, const msm_uuid *u);

/* Cross-object resolution of a policy, computed at commit. */
typedef struct msm_resolved {
    int32_t *sl_profile;   /* per seclabel: profile index   */
    int32_t *sl_tag;       /* per seclabel: tag index       */
    int32_t *cs_tags;      /* per conflict: MSM_MAX_SET_TAGS tag indices */
    uint32_t *nc_off;      /* per tag: CSR offsets into nc_list (no-coresidence) */
    uint32_t *nc_list;
    uint32_t *ncm_off;     /* per tag: CSR offsets into ncm_list (no-communication) */
    uint32_t *ncm_list;
} msm_resolved;

void msm_resolved_free(msm_resolved *r);
/* Reference/name checks of a staged policy; on failure fills err and returns
 * MSM_EVALIDATE. */
int msm_policy_resolve(msm_ctx *ctx, const msm_policy *p, msm_resolved *r,
                       msm_commit_error *err);
/* 1 when tags a and b (indices) are together in some set of the CSR lists. */
int msm_tags_share_set(const msm_policy *p, const msm_resolved *r, const uint32_t *off,
                       const uint32_t *list, int32_t a, int32_t b);

/* ------------------------------------------------------- chinese wall */

/* Admits a domain of tag `t`: MSM_ECONFLICT (nothing changed) when
 * conflict_aggregate[t] > 0. */
int msm_cw_admit(const msm_policy *p, const msm_resolved *r, uint32_t *running,
                 uint32_t *aggregate, int32_t t);
void msm_cw_release(const msm_policy *p, const msm_resolved *r, uint32_t *running,
                    uint32_t *aggregate, int32_t t);

/* ---------------------------------------------------------------- names */
const char *msm_objtype_name(uint32_t type);

#endif /* XENON_MSM_INTERNAL_H */

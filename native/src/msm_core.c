/* msm_core.c -- status and hypercall names, error detail, object validation. */
#include <stdio.h>

#include "msm_internal.h"

static const char *const status_names[MSM_STATUS_MAX + 1] = {
    "MSM_OK",        "MSM_EINVAL",   "MSM_ESIZE",    "MSM_ERANGE",      "MSM_ENOENT",
    "MSM_EEXIST",    "MSM_ENOSPC",   "MSM_ENOMEM",   "MSM_ESTATE",      "MSM_ENOLABEL",
    "MSM_ECONFLICT", "MSM_EVIOLATIONS", "MSM_EDENIED", "MSM_EVALIDATE", "MSM_EBUSY",
    "MSM_ENOSYS",    "MSM_ENOXEN",   "MSM_ENOMSM",   "MSM_EIO",         "MSM_EVERSION",
};

const char *msm_status_name(int status)
{
    if (status < 0 || status > MSM_STATUS_MAX)
        return "MSM_UNKNOWN";
    return status_names[status];
}

/* xen/include/public/xen.h, __HYPERVISOR_* */
static const char *const hc_names[MSM_NR_HYPERCALLS] = {
    [0] = "set_trap_table",
    [1] = "mmu_update",
    [2] = "set_gdt",
    [3] = "stack_switch",
    [4] = "set_callbacks",
    [5] = "fpu_taskswitch",
    [6] = "sched_op_compat",
    [7] = "platform_op",
    [8] = "set_debugreg",
    [9] = "get_debugreg",
    [10] = "update_descriptor",
    [11] = "unused",
    [12] = "memory_op",
    [13] = "multicall",
    [14] = "update_va_mapping",
    [15] = "set_timer_op",
    [16] = "event_channel_op_compat",
    [17] = "xen_version",
    [18] = "console_io",
    [19] = "physdev_op_compat",
    [20] = "grant_table_op",
    [21] = "vm_assist",
    [22] = "update_va_mapping_otherdomain",
    [23] = "iret",
    [24] = "vcpu_op",
    [25] = "set_segment_base",
    [26] = "mmuext_op",
    [27] = "xsm_op",
    [28] = "nmi_op",
    [29] = "sched_op",
    [30] = "callback_op",
    [31] = "xenoprof_op",
    [32] = "event_channel_op",
    [33] = "physdev_op",
    [34] = "hvm_op",
    [35] = "sysctl",
    [36] = "domctl",
    [37] = "kexec_op",
    [38] = "tmem_op",
    [39] = "argo_op",
    [40] = "xenpmu_op",
    [41] = "dm_op",
    [42] = "hypfs_op",
    [48] = "arch_0",
    [49] = "arch_1",
    [50] = "arch_2",
    [51] = "arch_3",
    [52] = "arch_4",
    [53] = "arch_5",
    [54] = "arch_6",
    [55] = "arch_7",
};

const char *msm_hypercall_name(uint32_t nr)
{
    if (nr >= MSM_NR_HYPERCALLS)
        return NULL;
    return hc_names[nr];
}

int msm_hypercall_has_subops(uint32_t nr)
{
    return nr < MSM_NR_HYPERCALLS && ((MSM_SUBOP_MASK >> nr) & 1u);
}

const char *msm_objtype_name(uint32_t type)
{
    static const char *const names[] = {"domain", "profile", "tag",    "conflict set",
                                        "seclabel", "binding", "device"};
    return type <= MSM_NTYPES ? names[type] : "object";
}

/* Detail of the last failed msm_open_* of this thread (there is no context yet). */
static _Thread_local char open_err[192];

int msm_fail(msm_ctx *ctx, int status, const char *fmt, ...)
{
    char tmp[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(ctx ? ctx->err : open_err, tmp, sizeof tmp);
    return status;
}

void msm_clear_error(msm_ctx *ctx)
{
    ctx->err[0] = '\0';
}

const char *msm_last_error(const msm_ctx *ctx)
{
    if (!ctx)
        return open_err;
    return ctx->err;
}

/* ------------------------------------------------------------ validation */

size_t msm_obj_size(uint32_t type)
{
    switch (type) {
    case MSM_OBJ_PROFILE: return sizeof(msm_profile);
    case MSM_OBJ_TAG: return sizeof(msm_tag);
    case MSM_OBJ_CONFLICT: return sizeof(msm_conflict);
    case MSM_OBJ_SECLABEL: return sizeof(msm_seclabel);
    case MSM_OBJ_BINDING: return sizeof(msm_binding);
    case MSM_OBJ_DEVICE: return sizeof(msm_device);
    default: return 0;
    }
}

int msm_uuid_is_zero(const msm_uuid *u)
{
    static const msm_uuid zero;
    return memcmp(u, &zero, sizeof zero) == 0;
}

int msm_name_valid(const char *name)
{
    return name[0] != '\0' && memchr(name, '\0', MSM_NAME_LEN) != NULL;
}

/* Zeroes the bytes after the terminating NUL so that equal names compare equal. */
static void name_normalise(char *name)
{
    size_t len = strnlen(name, MSM_NAME_LEN);
    memset(name + len, 0, MSM_NAME_LEN - len);
}

static int check_id_name(msm_ctx *ctx, uint32_t type, const msm_uuid *id, char *name)
{
    if (msm_uuid_is_zero(id))
        return msm_fail(ctx, MSM_EINVAL, "%s: the zero uuid is reserved", msm_objtype_name(type));
    if (!msm_name_valid(name))
        return msm_fail(ctx, MSM_EINVAL, "%s: name must be 1..%d bytes and NUL-terminated",
                        msm_objtype_name(type), MSM_NAME_LEN - 1);
    name_normalise(name);
    return MSM_OK;
}

int msm_obj_validate(msm_ctx *ctx, uint32_t type, const void *obj, void *norm)
{
    size_t size = msm_obj_size(type);
    memcpy(norm, obj, size);
    switch (type) {
    case MSM_OBJ_PROFILE: {
        msm_profile *p = norm;
        int rc = check_id_name(ctx, type, &p->id, p->name);
        if (rc)
            return rc;
        for (uint32_t nr = 0; nr < MSM_NR_HYPERCALLS; nr++) {
            if (msm_hypercall_has_subops(nr))
                continue;
            for (int w = 0; w < MSM_SUBOP_WORDS; w++)
                if (p->subops[nr][w])
                    return msm_fail(ctx, MSM_EINVAL,
                                    "profile: sub-op row %u must be 0 (hypercall has no sub-ops)",
                                    nr);
        }
        return MSM_OK;
    }
    case MSM_OBJ_TAG: {
        msm_tag *t = norm;
        return check_id_name(ctx, type, &t->id, t->name);
    }
    case MSM_OBJ_CONFLICT: {
        msm_conflict *c = norm;
        int rc = check_id_name(ctx, type, &c->id, c->name);
        if (rc)
            return rc;
        if (c->level != MSM_CONFLICT_NO_CORESIDENCE && c->level != MSM_CONFLICT_NO_COMMUNICATION)
            return msm_fail(ctx, MSM_EINVAL, "conflict set: bad level %u", c->level);
        if (c->ntags < 2 || c->ntags > MSM_MAX_SET_TAGS)
            return msm_fail(ctx, MSM_ERANGE, "conflict set: %u tags, need 2..%d", c->ntags,
                            MSM_MAX_SET_TAGS);
        for (uint32_t i = 0; i < c->ntags; i++) {
            if (msm_uuid_is_zero(&c->tags[i]))
                return msm_fail(ctx, MSM_EINVAL, "conflict set: tag %u is the zero uuid", i);
            for (uint32_t j = 0; j < i; j++)
                if (memcmp(&c->tags[i], &c->tags[j], sizeof(msm_uuid)) == 0)
                    return msm_fail(ctx, MSM_EINVAL, "conflict set: tags %u and %u are equal",
                                    j, i);
        }
        memset(&c->tags[c->ntags], 0, (MSM_MAX_SET_TAGS - c->ntags) * sizeof(msm_uuid));
        return MSM_OK;
    }
    case MSM_OBJ_SECLABEL: {
        msm_seclabel *s = norm;
        int rc = check_id_name(ctx, type, &s->id, s->name);
        if (rc)
            return rc;
        if (s->role > MSM_ROLE_SECURITY)
            return msm_fail(ctx, MSM_EINVAL, "seclabel: bad role %u", s->role);
        if (s->max_rate < 1 || s->max_rate > 65535)
            return msm_fail(ctx, MSM_ERANGE, "seclabel: max_rate %u not in 1..65535",
                            s->max_rate);
        if (s->_reserved != 0)
            return msm_fail(ctx, MSM_EINVAL, "seclabel: reserved field must be 0");
        return MSM_OK;
    }
    case MSM_OBJ_BINDING: {
        msm_binding *b = norm;
        if (msm_uuid_is_zero(&b->domain))
            return msm_fail(ctx, MSM_EINVAL, "binding: the zero domain uuid is reserved");
        return MSM_OK;
    }
    case MSM_OBJ_DEVICE: {
        msm_device *d = norm;
        if (d->_reserved != 0)
            return msm_fail(ctx, MSM_EINVAL, "device: reserved field must be 0");
        return MSM_OK;
    }
    default:
        return msm_fail(ctx, MSM_EINVAL, "bad object type %u", type);
    }
}

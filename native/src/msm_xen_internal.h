/* msm_xen_internal.h -- private state of the xen backend and its libxenstat glue. */
#ifndef XENON_MSM_XEN_INTERNAL_H
#define XENON_MSM_XEN_INTERNAL_H

#include "msm_internal.h"

/* include/uapi/xen/privcmd.h */
struct msm_privcmd_hypercall {
    uint64_t op;
    uint64_t arg[5];
};

struct msm_xenstat;

typedef struct msm_xen {
    int fd;                    /* -1 with an injected ioctl                        */
    msm_ioctl_fn ioctl;
    void *user;
    uint8_t *buf;              /* MSM_XEN_BUF_SIZE, locked, MADV_DONTFORK          */
    struct msm_xenstat *stat;  /* libxenstat, loaded on first use                  */
    int stat_tried;
} msm_xen;

void msm_xenstat_close(msm_xen *x);
int msm_xenstat_domain_get(msm_ctx *ctx, uint32_t domid, msm_domain_info *out);
int msm_xenstat_domain_list(msm_ctx *ctx, msm_domain_info *out, uint32_t cap, uint32_t *n);

#endif /* XENON_MSM_XEN_INTERNAL_H */

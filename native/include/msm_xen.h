/*
 * msm_xen.h -- wire format of the MSM sub-commands inside an xsm_op hypercall.
 *
 * The xen backend issues every MSM command as
 *     struct privcmd_hypercall { uint64 op = 27 (__HYPERVISOR_xsm_op);
 *                                uint64 arg[5] = { (uint64)buffer, 0, 0, 0, 0 }; }
 * with ioctl(fd, IOCTL_PRIVCMD_HYPERCALL = 0x00305000, &call) on
 * /dev/xen/privcmd (fallback /proc/xen/privcmd).  `buffer` is a locked,
 * non-forking anonymous mapping of MSM_XEN_BUF_SIZE bytes holding
 *
 *     msm_xen_hdr  (24 bytes)
 *     payload      (hdr.payload_size bytes, layout per command below)
 *
 * All fields are little-endian and laid out exactly as the C structs here and
 * in msm.h (no padding beyond what those structs declare).  The hypervisor
 * writes the result status (an msm_status) into hdr.status and the
 * command's out-fields into the payload; the hypercall's own return value is
 * 0, or -errno when the transport fails (-ENOSYS/-EINVAL from a hypervisor
 * without the MSM module).
 *
 * The magic 0x4D534D00 is stored as the bytes 00 4D 53 4D.
 */
#ifndef XENON_MSM_XEN_H
#define XENON_MSM_XEN_H

#include <stdint.h>

#include "msm.h"

#define MSM_XEN_MAGIC 0x4D534D00u
#define MSM_XEN_HYPERCALL 27u                 /* __HYPERVISOR_xsm_op           */
#define MSM_XEN_IOCTL_HYPERCALL 0x00305000ul  /* IOCTL_PRIVCMD_HYPERCALL       */
#define MSM_XEN_BUF_SIZE 65536u               /* header + largest payload      */

typedef struct msm_xen_hdr {
    uint32_t magic;              /* MSM_XEN_MAGIC                                */
    uint32_t interface_version;  /* MSM_INTERFACE_VERSION of the caller          */
    uint32_t cmd;                /* msm_xen_cmd                                  */
    uint32_t payload_size;       /* bytes after this header                      */
    int32_t status;              /* out: msm_status; the caller sends 0          */
    uint32_t reserved;           /* 0                                            */
} msm_xen_hdr;

/* Commands and their payloads ("in" fields written by the caller, "out" by
 * the hypervisor; out fields are sent as 0). */
typedef enum msm_xen_cmd {
    MSM_XEN_GET_VERSION = 1,      /* msm_xen_version                             */
    MSM_XEN_GET_INFO = 2,         /* msm_info (out)                              */
    MSM_XEN_TXN_BEGIN = 3,        /* msm_xen_u32 {flags}                         */
    MSM_XEN_TXN_PUT = 4,          /* msm_xen_obj + the object (size bytes)       */
    MSM_XEN_TXN_DELETE = 5,       /* msm_xen_delete                              */
    MSM_XEN_TXN_COMMIT = 6,       /* msm_commit_error (out)                      */
    MSM_XEN_TXN_ABORT = 7,        /* no payload (payload_size 0)                 */
    MSM_XEN_POLICY_GET = 8,       /* msm_xen_get + the object (out, size bytes)  */
    MSM_XEN_RING_DRAIN = 9,       /* msm_xen_drain + max msm_violation (out)     */
    MSM_XEN_RESET_VIOLATIONS = 10,/* msm_xen_u32 {domid}                         */
    MSM_XEN_DEVICE_ASSIGN = 11,   /* msm_xen_device                              */
    MSM_XEN_DEVICE_RELEASE = 12,  /* msm_xen_device                              */
    MSM_XEN_CHECK_HYPERCALL = 13, /* msm_xen_check_hc                            */
    MSM_XEN_CHECK_CHANNEL = 14    /* msm_xen_check_ch                            */
} msm_xen_cmd;

typedef struct msm_xen_version {
    uint32_t version;            /* out: the hypervisor's MSM_INTERFACE_VERSION  */
    uint32_t reserved;
} msm_xen_version;

typedef struct msm_xen_u32 {
    uint32_t value;
    uint32_t reserved;
} msm_xen_u32;

typedef struct msm_xen_obj {
    uint32_t type;               /* msm_objtype                                  */
    uint32_t size;               /* sizeof the object struct                     */
} msm_xen_obj;

typedef struct msm_xen_delete {
    uint32_t type;
    uint32_t bdf;                /* devices                                      */
    msm_uuid id;                 /* uuid-keyed types; zero for devices           */
} msm_xen_delete;

typedef struct msm_xen_get {
    uint32_t type, index, size, reserved;
} msm_xen_get;

typedef struct msm_xen_drain {
    uint32_t max;                /* in: records wanted in this call              */
    uint32_t n;                  /* out: records written                         */
    uint64_t dropped;            /* out: dropped since the previous drain        */
} msm_xen_drain;

typedef struct msm_xen_device {
    uint32_t domid, bdf;
} msm_xen_device;

typedef struct msm_xen_check_hc {
    uint32_t domid, nr, subop;
    uint32_t decision;           /* out                                          */
    uint64_t now_ns;
} msm_xen_check_hc;

typedef struct msm_xen_check_ch {
    uint32_t kind, src, dst;
    uint32_t decision;           /* out                                          */
    uint64_t now_ns;
} msm_xen_check_ch;

#endif /* XENON_MSM_XEN_H */

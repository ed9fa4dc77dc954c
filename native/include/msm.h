/*
 * msm.h -- the one ABI of the Xenon MSM security module.
 *
 * Every entry point returns an msm_status (0 = MSM_OK). Results come back
 * through out-parameters. Structures that cross the ABI are passed together
 * with their size so that a caller built against another layout is refused
 * with MSM_ESIZE instead of reading garbage.
 *
 * Two backends sit behind this interface:
 *   - "sim": an in-process simulated hypervisor (the default; tests, demo);
 *   - "xen": the same MSM sub-commands encoded in an xsm_op (hypercall 27)
 *            payload and issued through /dev/xen/privcmd.
 *
 * A context (msm_ctx) is not thread-safe: one thread drives it at a time.
 *
 * Order of argument checks in every entry point (the first failing one is
 * returned): ctx NULL -> MSM_EINVAL; pointer arguments NULL (parameter order)
 * -> MSM_EINVAL; an object/kind enum out of range -> MSM_EINVAL; a struct size
 * -> MSM_ESIZE; the values of the arguments / struct fields in declaration
 * order (MSM_EINVAL for enums, flags, names, reserved fields; MSM_ERANGE for
 * numbers); only then state and lookups (MSM_ESTATE, MSM_EBUSY, MSM_ENOENT,
 * ...).  Nothing is changed when an entry point fails.
 */
#ifndef XENON_MSM_H
#define XENON_MSM_H

#include <stddef.h>
#include <stdint.h>

/* major << 16 | minor.  A major change breaks the ABI; a minor one adds.
 * 1.1 added msm_bench_bitmap_floor, then the soak (msm_sim_run_ex, the
 * checker, msm_soak_world); 1.2 adds the evaluation mode (msm_eval_*) and the
 * allowed-call counters (msm_calls_drain); 1.3 adds the label-level channel rule
 * (msm_check_channel: both ends' profiles must allow event_channel_op; a domain
 * whose profile lacks it, e.g. a quarantined one, has no channel at all).  Pinned in
 * xps/msm/_lib.py, tests/_support/msm_model.py, tests/native/test_xen.py and
 * native/tests/test_xen.c. */
#define MSM_INTERFACE_VERSION 0x00010003u

/* ---------------------------------------------------------------- status */

typedef enum msm_status {
    MSM_OK = 0,
    MSM_EINVAL = 1,      /* an argument is malformed (NULL, bad enum, bad flags)   */
    MSM_ESIZE = 2,       /* a struct size does not match this library's layout    */
    MSM_ERANGE = 3,      /* a number is outside its documented range              */
    MSM_ENOENT = 4,      /* no object / domain with that id                       */
    MSM_EEXIST = 5,      /* an object with that id or name already exists         */
    MSM_ENOSPC = 6,      /* a table or the host memory is full                    */
    MSM_ENOMEM = 7,      /* the library could not allocate memory                 */
    MSM_ESTATE = 8,      /* wrong state (no open transaction, domain not running) */
    MSM_ENOLABEL = 9,    /* domain start refused: no SecLabel bound to it         */
    MSM_ECONFLICT = 10,  /* domain start refused: no-coresidence conflict set     */
    MSM_EVIOLATIONS = 11,/* unpause refused: max violations reached, not addressed*/
    MSM_EDENIED = 12,    /* device assignment refused (tag mismatch)              */
    MSM_EVALIDATE = 13,  /* commit refused: see msm_commit_error                  */
    MSM_EBUSY = 14,      /* resource in use (device assigned, txn already open)   */
    MSM_ENOSYS = 15,     /* operation not provided by this backend                */
    MSM_ENOXEN = 16,     /* xen backend: no privcmd device (not a Xen dom0)       */
    MSM_ENOMSM = 17,     /* xen backend: hypervisor answers, but has no MSM       */
    MSM_EIO = 18,        /* xen backend: the hypercall failed (errno in detail)   */
    MSM_EVERSION = 19    /* interface version mismatch                            */
} msm_status;

#define MSM_STATUS_MAX 19

/* A static, human-readable name for a status ("MSM_ECONFLICT"); never NULL. */
const char *msm_status_name(int status);   /* "MSM_UNKNOWN" out of range */

/* ------------------------------------------------------------- constants */

#define MSM_NR_HYPERCALLS   64   /* hypercall numbers 0..63 (Xen's xen.h table)   */
#define MSM_SUBOP_BITS      256  /* sub-command numbers 0..255                     */
#define MSM_SUBOP_WORDS     4    /* 256 bits as 4 x uint64_t, bit n = word n/64    */
#define MSM_NAME_LEN        64   /* NUL-terminated names, at most 63 bytes         */
#define MSM_MAX_SET_TAGS    64   /* tags per conflict set (2..64)                  */
#define MSM_MAX_PROFILES    1024
#define MSM_MAX_TAGS        1024
#define MSM_MAX_CONFLICTS   1024
#define MSM_MAX_SECLABELS   16384
#define MSM_MAX_BINDINGS    16384 /* domain-uuid -> SecLabel bindings             */
#define MSM_MAX_DEVICES     4096  /* PCI device -> tag                            */
#define MSM_MAX_DOMAINS     1024  /* live domains of the sim backend, dom0 incl.   */
#define MSM_DOMID_MAX       0x7FEFu /* DOMID_FIRST_RESERVED - 1                    */
#define MSM_DOMID_INVALID   0xFFFFFFFFu
#define MSM_PAGE_SIZE       4096u
#define MSM_EXTENT_KB       2048u /* sim allocates guest memory in 2 MiB extents   */

/* Hypercalls that carry a sub-command in their first argument; for these the
 * profile's 256-bit sub-op bitmap is enforced, for all others `subop` is
 * ignored.  Numbers follow xen/include/public/xen.h. */
#define MSM_HC_PLATFORM_OP       7
#define MSM_HC_MEMORY_OP        12
#define MSM_HC_GRANT_TABLE_OP   20
#define MSM_HC_VCPU_OP          24
#define MSM_HC_MMUEXT_OP        26
#define MSM_HC_XSM_OP           27
#define MSM_HC_SCHED_OP         29
#define MSM_HC_CALLBACK_OP      30
#define MSM_HC_EVENT_CHANNEL_OP 32
#define MSM_HC_PHYSDEV_OP       33
#define MSM_HC_HVM_OP           34
#define MSM_HC_SYSCTL           35
#define MSM_HC_DOMCTL           36
#define MSM_HC_DM_OP            41
/* Returns 1 when hypercall `nr` has an enforced sub-op bitmap, else 0. */
int msm_hypercall_has_subops(uint32_t nr);
/* Static name of a hypercall ("domctl"), "unused" for 11, NULL when nr >= 64
 * or the number is not in Xen's table (43..47, 56..63). */
const char *msm_hypercall_name(uint32_t nr);

/* --------------------------------------------------------------- objects */

typedef struct msm_uuid { uint8_t b[16]; } msm_uuid;   /* RFC 4122 byte order */

typedef enum msm_objtype {
    MSM_OBJ_PROFILE = 1,
    MSM_OBJ_TAG = 2,
    MSM_OBJ_CONFLICT = 3,
    MSM_OBJ_SECLABEL = 4,
    MSM_OBJ_BINDING = 5,   /* domain (by domain UUID) -> SecLabel */
    MSM_OBJ_DEVICE = 6     /* PCI device (by BDF) -> tag           */
} msm_objtype;

/* Per-object rules checked by msm_txn_put (besides those noted per field):
 *   - ids (and a binding's domain uuid) must not be the zero uuid (MSM_EINVAL);
 *   - names: 1..63 bytes then NUL (MSM_EINVAL); bytes after the NUL are
 *     zeroed when stored, so msm_policy_get returns them as 0;
 *   - profile: rows of subops[] for hypercalls without sub-ops must be 0
 *     (MSM_EINVAL); any bit of `hypercalls` may be set;
 *   - conflict: level (MSM_EINVAL), then ntags (MSM_ERANGE), then each of
 *     tags[0..ntags) non-zero and distinct from the earlier ones (MSM_EINVAL);
 *     tags[ntags..] are zeroed when stored;
 *   - seclabel: role (MSM_EINVAL), max_rate (MSM_ERANGE), _reserved
 *     (MSM_EINVAL); profile/tag references are only checked at commit;
 *   - device: _reserved (MSM_EINVAL); any bdf.
 * A put of a new key into a full staged table (MSM_MAX_*) -> MSM_ENOSPC. */
typedef struct msm_profile {
    msm_uuid id;
    char name[MSM_NAME_LEN];
    uint64_t hypercalls;                       /* bit n: hypercall n allowed    */
    uint64_t subops[MSM_NR_HYPERCALLS][MSM_SUBOP_WORDS]; /* only rows n with
                                                  msm_hypercall_has_subops(n) */
} msm_profile;

typedef struct msm_tag {
    msm_uuid id;
    char name[MSM_NAME_LEN];
} msm_tag;

typedef enum msm_conflict_level {
    MSM_CONFLICT_NO_CORESIDENCE = 1,  /* Chinese Wall: never run together on a host */
    MSM_CONFLICT_NO_COMMUNICATION = 2 /* may run together, never communicate        */
} msm_conflict_level;

typedef struct msm_conflict {
    msm_uuid id;
    char name[MSM_NAME_LEN];
    uint32_t level;                   /* msm_conflict_level                  */
    uint32_t ntags;                   /* 2..MSM_MAX_SET_TAGS, all distinct   */
    msm_uuid tags[MSM_MAX_SET_TAGS];
} msm_conflict;

typedef enum msm_role {
    MSM_ROLE_NONE = 0,
    MSM_ROLE_NETWORK_DRIVER = 1,
    MSM_ROLE_STORAGE_DRIVER = 2,
    MSM_ROLE_SECURITY = 3
} msm_role;

typedef struct msm_seclabel {
    msm_uuid id;
    char name[MSM_NAME_LEN];
    msm_uuid profile;
    msm_uuid tag;
    uint32_t role;             /* msm_role                                    */
    uint32_t max_rate;         /* hypercalls per millisecond, 1..65535        */
    uint32_t max_violations;   /* 1..UINT32_MAX; 0 = never stop the domain    */
    uint32_t _reserved;        /* must be 0                                   */
} msm_seclabel;

typedef struct msm_binding {
    msm_uuid domain;           /* the domain's UUID (xl.cfg uuid / Xen handle) */
    msm_uuid seclabel;
} msm_binding;

typedef struct msm_device {
    uint32_t bdf;              /* segment<<16 | bus<<8 | device<<3 | function  */
    uint32_t _reserved;        /* must be 0                                    */
    msm_uuid tag;
} msm_device;

/* Validation limits for msm_device.bdf: segment <= 0xFFFF, i.e. any uint32. */

/* --------------------------------------------------------------- context */

typedef struct msm_ctx msm_ctx;

typedef enum msm_backend {
    MSM_BACKEND_SIM = 1,
    MSM_BACKEND_XEN = 2
} msm_backend;

typedef struct msm_sim_config {
    uint64_t seed;             /* workload PRNG seed; same seed, same results  */
    uint64_t host_mem_kb;      /* simulated RAM, multiple of MSM_EXTENT_KB,
                                  >= 4 extents, <= 1 TiB                       */
    uint32_t host_cpus;        /* 1..1024                                      */
    uint32_t ring_capacity;    /* violation ring slots: power of two, 16..2^22 */
    uint64_t dom0_mem_kb;      /* memory given to dom0, multiple of EXTENT_KB  */
} msm_sim_config;

/* Fills `cfg` with defaults: seed 1, 16 GiB, 8 CPUs, ring 65536, dom0 1 GiB.
 * Config checks of msm_open_sim: out NULL, cfg NULL (EINVAL), size (ESIZE),
 * then every range (MSM_ERANGE); dom0_mem_kb must be > 0 and < host_mem_kb. */
int msm_sim_config_default(msm_sim_config *cfg, size_t cfg_size);

/* Opens a simulated hypervisor with an empty (boot) policy, generation 0,
 * and dom0 (domid 0, privileged, unlabelled) running. */
int msm_open_sim(const msm_sim_config *cfg, size_t cfg_size, msm_ctx **out);

/* The xen backend's privcmd ioctl, injectable for tests.  Called exactly as
 * ioctl(fd, request, arg) would be; returns its result (-1 + errno on error
 * is reported by returning -errno). */
typedef long (*msm_ioctl_fn)(int fd, unsigned long request, void *arg, void *user);

/* Opens the xen backend.  `privcmd_path` NULL means /dev/xen/privcmd, falling
 * back to /proc/xen/privcmd.  `ioctl_fn` NULL means the real ioctl(2); with an
 * injected function `privcmd_path` is not opened (fd -1 is passed).  After
 * opening, the backend asks the hypervisor for the MSM interface version:
 * MSM_ENOXEN when no privcmd device exists, MSM_ENOMSM when the hypervisor
 * answers -ENOSYS/-EINVAL to the MSM magic, MSM_EVERSION on a major mismatch. */
int msm_open_xen(const char *privcmd_path, msm_ioctl_fn ioctl_fn, void *user,
                 msm_ctx **out);

void msm_close(msm_ctx *ctx);              /* NULL is a no-op */

/* Detail of the last failure on this context (static or ctx-owned string,
 * valid until the next call); "" when none.  With ctx NULL: the detail of
 * the last failed msm_open_xen/msm_open_sim/msm_bench_bitmap_floor on the
 * calling thread. */
const char *msm_last_error(const msm_ctx *ctx);

typedef struct msm_info {
    uint32_t interface_version;   /* MSM_INTERFACE_VERSION                    */
    uint32_t backend;             /* msm_backend                              */
    uint64_t generation;          /* policy generation, 0 = boot policy       */
    uint32_t n_profiles, n_tags, n_conflicts, n_seclabels, n_bindings, n_devices;
    uint32_t n_domains;           /* live domains including dom0              */
    uint32_t host_cpus;
    uint64_t host_mem_kb, free_mem_kb;
    uint64_t now_ns;              /* simulated clock (sim), monotonic (xen)   */
    uint32_t ring_capacity, ring_used;
    uint64_t ring_dropped;        /* records lost because the ring was full   */
    uint64_t hypercalls_checked, hypercalls_denied;
    uint64_t channels_checked, channels_denied;
    uint64_t pages_scrubbed;      /* pages zeroed on free since open          */
    uint32_t txn_open;            /* 1 while a transaction is open            */
    uint32_t _reserved;
} msm_info;

int msm_get_info(msm_ctx *ctx, msm_info *out, size_t out_size);

/* ---------------------------------------------------------- transactions */

#define MSM_TXN_COPY  0u   /* start from the active policy                 */
#define MSM_TXN_EMPTY 1u   /* start from an empty policy (full replacement) */

/* Opens the one transaction of this context (MSM_EBUSY if one is open).
 * Bad flags -> MSM_EINVAL. */
int msm_txn_begin(msm_ctx *ctx, uint32_t flags);

/* Stages one object; `type` selects the struct and `size` must be its
 * sizeof.  Put replaces an object with the same key (uuid, or bdf for
 * devices).  Per-object checks happen here (ranges, NUL-terminated names,
 * distinct tags in a set, reserved fields 0): MSM_EINVAL / MSM_ERANGE.
 * Cross-object checks happen at commit.  The object is validated before the
 * state check: MSM_ESTATE (no transaction) comes after MSM_EINVAL/ERANGE. */
int msm_txn_put(msm_ctx *ctx, uint32_t type, const void *obj, size_t size);

/* Deletes one staged object by key: `id` for uuid-keyed types (for
 * MSM_OBJ_BINDING the domain uuid), `bdf` for MSM_OBJ_DEVICE (id ignored,
 * may be NULL).  MSM_ENOENT if absent. */
int msm_txn_delete(msm_ctx *ctx, uint32_t type, const msm_uuid *id, uint32_t bdf);

typedef enum msm_rule {
    MSM_RULE_NONE = 0,
    MSM_RULE_DANGLING_PROFILE = 1,   /* SecLabel names a missing profile         */
    MSM_RULE_DANGLING_TAG = 2,       /* SecLabel/conflict/device names a missing tag */
    MSM_RULE_DANGLING_SECLABEL = 3,  /* binding names a missing SecLabel         */
    MSM_RULE_DUPLICATE_NAME = 4,     /* two objects of one type share a name     */
    MSM_RULE_RUNNING_UNLABELLED = 5, /* a running domain would lose its SecLabel */
    MSM_RULE_CONFLICT = 6,           /* running domains clash (Chinese Wall)     */
    MSM_RULE_DEVICE_TAG = 7,         /* an assigned device's tag != its domain's */
    MSM_RULE_LIMIT = 8               /* a table limit would be exceeded          */
} msm_rule;

typedef struct msm_commit_error {
    uint32_t rule;          /* msm_rule                                      */
    uint32_t type;          /* msm_objtype of the failing object (0 = domain) */
    msm_uuid id;            /* its uuid (binding: domain uuid), else zero    */
    uint32_t bdf;           /* device bdf, else 0                            */
    uint32_t domid;         /* domain involved, else MSM_DOMID_INVALID       */
    msm_uuid other;         /* the other object involved (e.g. clashing tag) */
} msm_commit_error;

/* Validates the staged policy as a whole and, if it holds, swaps it in
 * atomically with generation + 1 and closes the transaction.  Checks: every
 * reference resolves, names are unique per type, every running domain still
 * has a SecLabel, all running domains are re-admitted in domid order under
 * the Chinese Wall algorithm, every assigned device keeps its domain's tag.
 * On failure returns MSM_EVALIDATE, fills `err` (may be NULL), changes
 * nothing, and leaves the transaction open (fix and commit again, or abort).
 * Running domains pick up their new SecLabel (profile, rate, max violations)
 * at once.
 *
 * Exact order of the checks (the first failure is reported; err fields not
 * named stay 0, domid stays MSM_DOMID_INVALID):
 *   1. DUPLICATE_NAME for profiles, then tags, conflicts, seclabels: the first
 *      object in key order whose name an earlier object already has
 *      (id = that object, other = the earliest object with the name);
 *   2. DANGLING_TAG for conflict sets in key order, tags in listed order
 *      (type CONFLICT, id = set, other = missing tag);
 *   3. seclabels in key order: DANGLING_PROFILE (other = profile uuid), then
 *      DANGLING_TAG (other = tag uuid);
 *   4. bindings in key order: DANGLING_SECLABEL (id = domain uuid,
 *      other = seclabel uuid);
 *   5. devices in bdf order: DANGLING_TAG (type DEVICE, id 0, bdf,
 *      other = tag uuid);
 *   6. every live non-dom0 domain (running, paused or shut down) in domid
 *      order: RUNNING_UNLABELLED (type 0, id = domain uuid, domid) if the new
 *      policy has no binding for it, else it is re-admitted under the Chinese
 *      Wall on fresh arrays: CONFLICT (type 0, id = domain uuid, domid,
 *      other = the tag of the lowest-domid domain admitted before it whose tag
 *      shares a no-coresidence set with its tag);
 *   7. assigned devices in bdf order: DEVICE_TAG (type DEVICE, bdf, domid,
 *      other = the device's tag in the new policy) when the device is absent
 *      from the new policy or its tag differs from the domain's new tag.
 * MSM_RULE_LIMIT is never reported by the sim (msm_txn_put refuses first).
 * On success `err` is zeroed with domid MSM_DOMID_INVALID.  `err` NULL is
 * allowed (err_size then ignored); no open transaction -> MSM_ESTATE. */
int msm_txn_commit(msm_ctx *ctx, msm_commit_error *err, size_t err_size);
int msm_txn_abort(msm_ctx *ctx);

/* Reads the active policy: object `index` (0..count-1, sorted by key) of
 * `type`.  MSM_ENOENT past the end. */
int msm_policy_get(msm_ctx *ctx, uint32_t type, uint32_t index, void *out, size_t size);

/* ------------------------------------------------------------ enforcement */

typedef enum msm_decision {
    MSM_ALLOW = 0,
    MSM_DENY_PROFILE = 1,   /* hypercall (or its sub-op) not in the profile */
    MSM_DENY_RATE = 2,      /* over max_rate in the current 1 ms window     */
    MSM_DENY_CHANNEL = 3    /* inter-domain channel refused                 */
} msm_decision;

typedef enum msm_violation_kind {
    MSM_VIOL_PROFILE = 1,
    MSM_VIOL_RATE = 2,
    MSM_VIOL_CHANNEL = 3
} msm_violation_kind;

/* Decides one hypercall of a running domain at time now_ns.
 *   dom0 (domid 0): always MSM_ALLOW, nothing counted.
 *   Otherwise, in order:
 *     1. the domain's window counter: if now_ns / 1e6 differs from the
 *        window of its previous call, the counter restarts at 0; then it is
 *        incremented (every call counts, allowed or not);
 *     2. nr >= 64, nr not in the profile, or (nr has sub-ops and (subop >= 256
 *        or its bit is clear)) -> MSM_DENY_PROFILE;
 *     3. counter > max_rate -> MSM_DENY_RATE;
 *     4. else MSM_ALLOW.
 *   Each denial increments the domain's violation count, appends a record
 *   to the ring, and when the count reaches max_violations (if non-zero)
 *   pauses the domain with `stopped_by_msm` set.
 * Errors: MSM_ENOENT unknown domid; MSM_ESTATE domain not running (paused,
 * shut down).  now_ns earlier than the domain's last call is treated as the
 * same window (clocks never run backwards for a domain).
 * Precisely: the window restarts only when now_ns / 1e6 is greater than the
 * stored window; a new or rebooted domain starts with window 0, count 0.
 * The stop rule is evaluated at each violation: violations >= max_violations
 * (non-zero) and not yet stopped -> paused + stopped_by_msm (so lowering
 * max_violations below a domain's count stops it at its next violation).
 * Counted: info.hypercalls_checked/denied and the domain's `hypercalls` for
 * every decision of a non-dom0 domain (msm_sim_run included). */
int msm_check_hypercall(msm_ctx *ctx, uint32_t domid, uint32_t nr, uint32_t subop,
                        uint64_t now_ns, uint32_t *decision);

typedef enum msm_channel_kind {
    MSM_CHAN_EVTCHN = 1,     /* event channel bind (recorded as nr 32)      */
    MSM_CHAN_GRANT = 2       /* grant map            (recorded as nr 20)    */
} msm_channel_kind;

/* Decides an inter-domain channel from src to dst (both live).  Allowed only when
 * both rules allow it (interface 1.3):
 *   the tag rule -- src or dst is dom0; or both domains have the same tag; or
 *     one of them has role MSM_ROLE_SECURITY (introspection) and no
 *     no-communication set contains both tags;
 *   the label rule -- each end that is not dom0 has a SecLabel whose profile
 *     allows hypercall 32 (event_channel_op; its bit in the profile's
 *     `hypercalls`, sub-ops not consulted), for a grant channel as for an event
 *     channel.  dom0's own end always passes; a domain whose profile lacks
 *     event_channel_op (the quarantine profile) can neither open nor be given a
 *     channel, from a peer of its own tag or from dom0.
 *   Otherwise MSM_DENY_CHANNEL: a violation of kind MSM_VIOL_CHANNEL charged to
 *     src (record peer = dst), with the same max-violations rule.
 * On the xen backend the hypervisor's MSM decides: one that reports an
 * interface below 1.3 (msm_info.interface_version) applies the tag rule only,
 * and this library cannot add the label rule there (guests open channels with
 * the hypervisor directly, never through dom0).
 * Channels do not pass through the rate window.  Errors: MSM_ENOENT,
 * MSM_ESTATE (src not running), MSM_EINVAL (bad kind or src == dst).
 * Check order: kind, src == dst, src unknown, dst unknown (any live state),
 * src not running.  info.channels_checked counts every decided channel (dom0
 * ones too); channels never count in a domain's `hypercalls`.  The violation
 * record has nr 32 (evtchn) or 20 (grant), subop 0, peer dst. */
int msm_check_channel(msm_ctx *ctx, uint32_t kind, uint32_t src, uint32_t dst,
                      uint64_t now_ns, uint32_t *decision);

typedef struct msm_violation {
    uint64_t ts_ns;
    uint32_t domid;
    uint32_t kind;         /* msm_violation_kind                            */
    msm_uuid seclabel;
    uint32_t nr;           /* hypercall number (as issued, may be >= 64)    */
    uint32_t subop;        /* as issued; 0 when nr has no sub-ops           */
    uint32_t peer;         /* channel peer domid, else MSM_DOMID_INVALID    */
    uint32_t count;        /* the domain's violation count after this one
                              (saturates at UINT32_MAX)                      */
} msm_violation;

/* Moves up to `max` oldest records into `out` (FIFO).  `n` receives how many;
 * `dropped` (may be NULL) the records lost to a full ring since the previous
 * drain.  A full ring never blocks the guest path: the newest record is
 * dropped and counted.  info.ring_dropped counts all drops since open. */
int msm_ring_drain(msm_ctx *ctx, msm_violation *out, size_t rec_size, uint32_t max,
                   uint32_t *n, uint64_t *dropped);

/* Allowed-call counters: per domain, per (hypercall, sub-op), per minute of the
 * context's clock (sim: simulated; xen: not provided, MSM_ENOSYS).  Every allowed
 * hypercall of a non-dom0 domain (msm_check_hypercall and msm_sim_run alike) is
 * counted; denials are not (they are violations).  Memory is bounded: each domain
 * holds the counts of its current minute (a slot per entry of its workload mix
 * and MSM_CALLS_OTHER slots for any other call; a full table is moved to the
 * records early), and moves them to a ring of MSM_CALLS_RING records when its
 * next call falls in another minute, when it is destroyed, and at every drain.
 * One (minute, domain, nr, sub-op) may therefore come in several records: their
 * counts add up.  A full ring drops the records that do not fit (never blocks). */
#define MSM_CALLS_RING  65536
#define MSM_CALLS_OTHER 64

typedef struct msm_call_count {
    uint64_t minute_ns;     /* start of the minute: floor(ts / 60e9) * 60e9   */
    uint32_t domid;
    uint32_t nr;            /* hypercall number, < 64                          */
    uint32_t subop;         /* sub-op; 0 for hypercalls without sub-ops        */
    uint32_t count;         /* allowed calls                                   */
    msm_uuid domain;        /* the domain's uuid                               */
} msm_call_count;

/* Moves the current minute of every live domain into the ring, then up to `max`
 * oldest records into `out` (FIFO).  `n` receives how many; `dropped` (may be
 * NULL) the calls lost to a full ring since the previous drain.  Checks: ctx,
 * out, n NULL (EINVAL); rec_size (ESIZE); backend without counters (ENOSYS). */
int msm_calls_drain(msm_ctx *ctx, msm_call_count *out, size_t rec_size, uint32_t max,
                    uint32_t *n, uint64_t *dropped);

/* Marks a domain's violations as addressed: count back to 0, stopped_by_msm
 * cleared (the domain stays paused until unpaused).  Any live domain, dom0
 * included (a no-op there); MSM_ENOENT otherwise. */
int msm_domain_reset_violations(msm_ctx *ctx, uint32_t domid);

/* Assigns PCI device `bdf` to a live domain: its bound tag must equal the
 * domain's tag (MSM_EDENIED), it must be unassigned (MSM_EBUSY), it must be in
 * the policy (MSM_ENOENT).  Released when the domain is destroyed.
 * Check order: domain unknown (ENOENT), device not in the active policy
 * (ENOENT), assigned to any domain (EBUSY), tag differs (EDENIED; dom0 has no
 * tag, so always EDENIED).  Release: domain unknown or device not assigned
 * to that domain -> MSM_ENOENT. */
int msm_device_assign(msm_ctx *ctx, uint32_t domid, uint32_t bdf);
int msm_device_release(msm_ctx *ctx, uint32_t domid, uint32_t bdf);

/* ------------------------------------------------------- domains (sim) */

typedef enum msm_guest_type {
    MSM_GUEST_PV = 1, MSM_GUEST_PVH = 2, MSM_GUEST_PVHVM = 3, MSM_GUEST_HVM = 4
} msm_guest_type;

typedef enum msm_guest_os { MSM_OS_LINUX = 1, MSM_OS_WINDOWS = 2 } msm_guest_os;

typedef struct msm_domain_config {
    msm_uuid uuid;
    char name[MSM_NAME_LEN];   /* unique among live domains                    */
    uint32_t guest_type;       /* msm_guest_type                               */
    uint32_t os;               /* msm_guest_os                                 */
    uint64_t mem_kb;           /* > 0, rounded up to MSM_EXTENT_KB             */
    uint64_t maxmem_kb;        /* >= mem_kb                                    */
    uint32_t vcpus;            /* 1..max_vcpus                                 */
    uint32_t max_vcpus;        /* 1..128                                       */
    uint32_t load_permille;    /* workload intensity, 0..1000 (CPU busy share) */
    uint32_t flags;            /* MSM_CREATE_PAUSED                            */
} msm_domain_config;

#define MSM_CREATE_PAUSED 1u

typedef enum msm_run_state {
    MSM_STATE_RUNNING = 1,
    MSM_STATE_PAUSED = 2,
    MSM_STATE_SHUTDOWN = 3     /* shut down, awaiting destroy */
} msm_run_state;

/* Xen shutdown reasons (public/sched.h). */
#define MSM_SHUTDOWN_POWEROFF 0u
#define MSM_SHUTDOWN_REBOOT   1u
#define MSM_SHUTDOWN_CRASH    3u

typedef struct msm_domain_info {
    uint32_t domid;
    uint32_t state;            /* msm_run_state                               */
    msm_uuid uuid;
    char name[MSM_NAME_LEN];
    msm_uuid seclabel;         /* zero for dom0                               */
    msm_uuid tag;              /* zero for dom0                               */
    uint32_t guest_type, os;
    uint32_t shutdown_reason;  /* valid in MSM_STATE_SHUTDOWN                 */
    uint32_t stopped_by_msm;   /* 1: paused by the module, reset required     */
    uint64_t cpu_ns;           /* cumulative CPU time                         */
    uint64_t cur_mem_kb, max_mem_kb;
    uint32_t vcpus_online, max_vcpus;
    uint64_t violations;       /* since the last reset                        */
    uint64_t hypercalls;       /* checked since creation                      */
    uint64_t created_ns;
} msm_domain_info;

/* Lifecycle calls on dom0 (pause, unpause, shutdown, reboot, destroy,
 * msm_sim_set_misbehaviour) -> MSM_EINVAL, checked before MSM_ENOENT.
 * dom0 is "Domain-0", zero uuid, PV Linux, vcpus = min(host_cpus, 128),
 * memory dom0_mem_kb, no SecLabel/tag; it issues no workload hypercalls but
 * accrues cpu_ns at 50 permille load in msm_sim_run.
 * cfg checks: uuid non-zero (EINVAL), name (EINVAL), guest_type, os (EINVAL),
 * mem_kb > 0, maxmem_kb >= mem_kb, max_vcpus, vcpus, load_permille (ERANGE),
 * flags (EINVAL); then EEXIST (live domains in domid order, uuid then name;
 * dom0's name counts), ENOLABEL, ECONFLICT, ENOSPC (table, then memory).
 * cur_mem_kb = extents * MSM_EXTENT_KB; max_mem_kb = max(maxmem_kb, cur_mem_kb).
 *
 * Creates and starts a domain (paused with MSM_CREATE_PAUSED).  Refused with
 * MSM_ENOLABEL when no binding exists for cfg->uuid, MSM_ECONFLICT on a
 * no-coresidence clash (sHype Chinese Wall: refused if the domain's tag has
 * a non-zero conflict_aggregate; on success every *other* tag of each
 * no-coresidence set containing the tag gets +1, and running_types[tag] +1),
 * MSM_EEXIST on a duplicate uuid/name of a live domain, MSM_ENOSPC when host
 * memory or the domain table is full.  Guest memory comes from the page
 * allocator, which zeroes every page when it is freed.  domids are handed out
 * increasing from 1 and not reused until they wrap past MSM_DOMID_MAX. */
int msm_domain_create(msm_ctx *ctx, const msm_domain_config *cfg, size_t cfg_size,
                      uint32_t *domid);
/* RUNNING or PAUSED -> PAUSED (idempotent); SHUTDOWN -> MSM_ESTATE. */
int msm_domain_pause(msm_ctx *ctx, uint32_t domid);
/* MSM_EVIOLATIONS while stopped_by_msm is set.  Order: SHUTDOWN -> MSM_ESTATE,
 * then stopped -> MSM_EVIOLATIONS; RUNNING stays RUNNING (idempotent). */
int msm_domain_unpause(msm_ctx *ctx, uint32_t domid);
/* Moves the domain to MSM_STATE_SHUTDOWN with `reason`; it stops running but
 * keeps its memory and Chinese Wall counts until destroyed.  reason 0..5
 * (Xen's SHUTDOWN_*) else MSM_ERANGE; already shut down -> MSM_ESTATE. */
int msm_domain_shutdown(msm_ctx *ctx, uint32_t domid, uint32_t reason);
/* Restarts the domain in place: same domid, memory scrubbed and reallocated,
 * cpu_ns and the rate window reset, violations kept.  From any state; the
 * domain is RUNNING afterwards (shutdown_reason 0).  Refused with
 * MSM_EVIOLATIONS while stopped_by_msm is set. */
int msm_domain_reboot(msm_ctx *ctx, uint32_t domid);
/* Frees everything: memory (scrubbed), devices, Chinese Wall counts.  dom0
 * cannot be destroyed (MSM_EINVAL). */
int msm_domain_destroy(msm_ctx *ctx, uint32_t domid);
int msm_domain_get(msm_ctx *ctx, uint32_t domid, msm_domain_info *out, size_t size);
/* Lists live domains in domid order; `n` receives the total count even when
 * it exceeds `cap` (then only `cap` entries are written).  `out` may be NULL
 * when cap is 0 (size is still checked). */
int msm_domain_list(msm_ctx *ctx, msm_domain_info *out, size_t size, uint32_t cap,
                    uint32_t *n);

/* Guest memory access of the sim (what the guest itself would read/write);
 * offset + len must lie within the domain's memory (cur_mem_kb), else
 * MSM_ERANGE (checked after MSM_ENOENT).  Any live domain in any state,
 * dom0 included.  `buf` NULL -> MSM_EINVAL even when len is 0. */
int msm_domain_write(msm_ctx *ctx, uint32_t domid, uint64_t offset,
                     const void *buf, size_t len);
int msm_domain_read(msm_ctx *ctx, uint32_t domid, uint64_t offset, void *buf, size_t len);

/* ----------------------------------------------------- workload (sim) */

typedef enum msm_misbehaviour {
    MSM_MIS_OUT_OF_PROFILE = 1,   /* hypercalls outside the guest-type mix       */
    MSM_MIS_RATE_BURST = 2,       /* bursts well above the SecLabel's max_rate   */
    MSM_MIS_CROSS_TAG = 3         /* channel attempts towards domains of other tags */
} msm_misbehaviour;

/* Sets how often a domain misbehaves: `per_million` events of `kind` per
 * million hypercalls it issues (0 turns it off; <= 1,000,000).
 * Check order: kind (EINVAL), per_million (ERANGE), dom0 (EINVAL), ENOENT.
 * An event replaces one call slot of the mix: OUT_OF_PROFILE issues one of
 * kexec_op, domctl create/destroy/pause, sysctl readconsole, platform_op
 * settime, set_debugreg, update_va_mapping_otherdomain; RATE_BURST issues
 * max_rate * 2 mix calls at one timestamp (at most one burst per domain per
 * 1 ms window, else a normal call); CROSS_TAG checks an event-channel or
 * grant channel towards a random live non-dom0 domain of another tag (a
 * normal call when there is none). */
int msm_sim_set_misbehaviour(msm_ctx *ctx, uint32_t domid, uint32_t kind,
                             uint32_t per_million);

typedef struct msm_run_counts {
    uint64_t hypercalls;       /* checked */
    uint64_t allowed;
    uint64_t denied_profile, denied_rate, denied_channel;
    uint64_t channels;         /* channel attempts checked */
    uint64_t domains_stopped;  /* stopped by the module during this run */
    uint64_t ring_dropped;     /* records dropped during this run */
    uint64_t elapsed_ns;       /* simulated time advanced */
} msm_run_counts;

/* Advances the simulated clock by duration_ns (<= 60 s per call), driving
 * every running non-dom0 domain with its guest type's hypercall mix through
 * the same decision path as msm_check_hypercall / msm_check_channel, and
 * accounting CPU time.  Deterministic for a given seed and call sequence.
 * Time advances in slices that end on 1 ms boundaries; in each slice every
 * RUNNING domain in domid order is charged CPU (slice * vcpus * load/1000,
 * jittered -2..+2 %, never more than slice * vcpus) and, unless dom0, issues
 * its calls for the slice (rate = base_rate * vcpus * load_permille / 1000
 * per second, fractions carried over) evenly spread over the slice; it stops
 * as soon as the module stops it.  Base rates per vCPU: PV 10000/s, PVH 5000,
 * PVHVM 4000 (Windows 2000), HVM 3000 (Windows 1000); the mixes are listed in
 * native/src/msm_workload.c.  `allowed`, `denied_profile` and `denied_rate`
 * add up to `hypercalls`; `channels` counts CROSS_TAG attempts. */
int msm_sim_run(msm_ctx *ctx, uint64_t duration_ns, msm_run_counts *out, size_t out_size);

/* ------------------------------------------------------ soak (sim) */

/* Adversarial injection of one msm_sim_run_ex, for every running domU on top of
 * its own misbehaviour (msm_sim_set_misbehaviour).  The first four are events per
 * million call slots: a slot whose draw r has (r >> 32) past the domain's own
 * misbehaviour thresholds and under the adversary's cumulative ones becomes, in
 * this order of thresholds:
 *   channel: an event-channel (r >> 24 & 1 = 0) or grant channel towards live
 *            domain number (r & 0xFFFFFF) % n among all live domains but itself,
 *            dom0 and its own tag included, in domid order (none: a mix call);
 *   device:  msm_device_assign of policy device number (r & 0xFFFFFF) % n (in
 *            bdf order, any tag), released at once when granted (no devices:
 *            a mix call);
 *   call:    a hypercall nr (r & 0xFFFF) % 72, sub-op ((r >> 16) & 0xFFFF) % 264,
 *            numbers past the tables included;
 *   burst:   as MSM_MIS_RATE_BURST.
 * lifecycle is per million 1 ms slices: after every running domain had its
 * slice, one draw r; when (r >> 32) < lifecycle * 2^32 / 10^6 the toolstack
 * destroys domU number (r & 0xFFFF) % n in domid order if (r >> 16) & 3 is 0
 * and a domU is live (a quarter: the host stays full and starts keep meeting
 * conflicts), else starts the domain of binding number (r & 0xFFFF) % m among
 * the m bindings (key order) whose domain uuid is not live, with the config of
 * msm_soak_domain_config; a refused start (MSM_ECONFLICT, MSM_ENOSPC) changes
 * nothing.  Every field 0 draws nothing more than msm_sim_run. */
typedef struct msm_adversary {
    uint32_t channel_per_million;
    uint32_t device_per_million;
    uint32_t call_per_million;
    uint32_t burst_per_million;
    uint32_t lifecycle_per_million;  /* per 1 ms slice                        */
    uint32_t _reserved;              /* must be 0                             */
} msm_adversary;

/* One allowed decision (or a destroy) of a run, as passed to an event sink. */
typedef enum msm_event_kind {
    MSM_EV_HYPERCALL = 1,   /* a = nr, b = sub-op (as issued)                 */
    MSM_EV_CHANNEL = 2,     /* a = msm_channel_kind, b = peer domid           */
    MSM_EV_DEVICE = 3,      /* a = bdf, b = 0                                 */
    MSM_EV_START = 4,       /* a domain was created; uuid = its uuid          */
    MSM_EV_DESTROY = 5      /* a domain was destroyed                         */
} msm_event_kind;

typedef struct msm_event {
    uint64_t ts_ns;
    uint32_t kind;          /* msm_event_kind                                 */
    uint32_t domid;
    uint32_t a, b;
    msm_uuid uuid;          /* MSM_EV_START only, else zero                   */
} msm_event;

/* Receives events in batches (in the order they happened); called from inside
 * msm_sim_run_ex when its buffer is full and once at its end. */
typedef void (*msm_event_sink)(void *user, const msm_event *events, uint32_t n);

typedef struct msm_run_params {
    uint64_t duration_ns;   /* as msm_sim_run: <= 60 s                        */
    msm_adversary adversary;
    msm_event_sink sink;    /* NULL: no events are recorded                   */
    void *sink_user;
} msm_run_params;

typedef struct msm_run_ex_counts {
    msm_run_counts run;     /* as msm_sim_run; channels counts every attempt  */
    uint64_t devices, devices_denied;   /* adversary assignments tried/refused */
    uint64_t starts, starts_denied;     /* adversary starts tried/refused      */
    uint64_t destroys;
    uint64_t events;        /* events passed to the sink                      */
} msm_run_ex_counts;

/* msm_sim_run with adversarial injection and an event sink.  With a zero
 * adversary and no sink it is msm_sim_run, draw for draw.  Checks: ctx, params,
 * out NULL (EINVAL); params_size, out_size (ESIZE); duration (ERANGE);
 * adversary._reserved (EINVAL); the sum of the four per-call rates and
 * lifecycle each <= 1,000,000 (ERANGE); backend not sim (ENOSYS). */
int msm_sim_run_ex(msm_ctx *ctx, const msm_run_params *params, size_t params_size,
                   msm_run_ex_counts *out, size_t out_size);

/* The config the adversary (and msm_soak_world) starts a bound domain with,
 * derived from its uuid u: name "soak-" + hex of u.b[0..7], guest kind
 * u.b[15] % 6 of (PV, Linux), (PVH, Linux), (PVHVM, Linux), (PVHVM, Windows),
 * (HVM, Linux), (HVM, Windows), vcpus 1 + u.b[14] % 8, max_vcpus 8, memory and
 * maxmem 2048 kB, load 1000 permille, flags 0. */
int msm_soak_domain_config(const msm_uuid *uuid, msm_domain_config *out, size_t out_size);

/* An independent invariant checker (msm_soak_check.c): it shares no code or
 * table with the engine, only these public structs.  It is given the policy
 * objects (msm_checker_put, before the first event) and then every allowed
 * decision as an event; a decision that breaks the policy is a leak:
 *   CHANNEL      a channel between domains of different tags, neither dom0,
 *                unless one has role SECURITY and no no-communication set holds
 *                both tags; or any channel with an end other than dom0 whose
 *                SecLabel's profile lacks event_channel_op (hypercall 32);
 *   DEVICE       a device assigned to a domain of another tag (or to dom0);
 *   CORESIDENCE  a start while a live domain's tag shares a no-coresidence
 *                set with the new domain's different tag;
 *   PROFILE      a hypercall outside its SecLabel's profile or sub-ops;
 *   RATE         more allowed hypercalls in one 1 ms window than max_rate;
 *   UNLABELLED   a start of a domain without a binding;
 *   UNKNOWN      an event of a domid that is not live (to the checker). */
typedef enum msm_leak_rule {
    MSM_LEAK_CHANNEL = 1,
    MSM_LEAK_DEVICE = 2,
    MSM_LEAK_CORESIDENCE = 3,
    MSM_LEAK_PROFILE = 4,
    MSM_LEAK_RATE = 5,
    MSM_LEAK_UNLABELLED = 6,
    MSM_LEAK_UNKNOWN = 7
} msm_leak_rule;

#define MSM_LEAK_RULES 8    /* by_rule[] slots, [0] unused                    */
#define MSM_LEAK_FIRST 8    /* leaks recorded with their event                */

typedef struct msm_leak {
    uint32_t rule;          /* msm_leak_rule                                  */
    uint32_t _reserved;
    msm_event event;
} msm_leak;

typedef struct msm_check_result {
    uint64_t events;        /* events checked                                 */
    uint64_t leaks;
    uint64_t by_rule[MSM_LEAK_RULES];
    uint32_t n_first;       /* recorded in first[], <= MSM_LEAK_FIRST         */
    uint32_t _reserved;
    msm_leak first[MSM_LEAK_FIRST];
} msm_check_result;

typedef struct msm_checker msm_checker;

int msm_checker_new(msm_checker **out);
void msm_checker_free(msm_checker *chk);   /* NULL is a no-op */
/* Adds a policy object (as msm_txn_put: type selects the struct, size must be
 * its sizeof).  MSM_ESTATE once events were fed; MSM_ENOSPC past MSM_MAX_*. */
int msm_checker_put(msm_checker *chk, uint32_t type, const void *obj, size_t size);
/* Checks a batch of events; an msm_event_sink (user = the checker). */
void msm_checker_feed(void *chk, const msm_event *events, uint32_t n);
int msm_checker_result(const msm_checker *chk, msm_check_result *out, size_t out_size);

/* Builds the soak world on a sim context with an empty policy and only dom0:
 * 8 tags, 4 conflict sets (no-coresidence {0,1} and {2,3,4}, no-communication
 * {3,5} and {6,7}), 4 profiles (the union of the workload mixes less a few
 * calls, plus random extra calls and sub-ops; profile 2 without event_channel_op,
 * so its domains hold no channel), 12 SecLabels (tag i % 8,
 * profile i % 4, rates 20..1000; label 11 role SECURITY with tag 6; labels 3
 * and 8 stop a domain at 500 violations, the rest never), 48 bindings (label i % 12), 32 devices
 * (random tags), all drawn from a generator seeded with `seed` (not the sim's);
 * then it starts bound domains in binding key order (msm_soak_domain_config)
 * until 16 run, skipping refused starts.  The same policy objects go to `chk`
 * (may be NULL) and every started domain as an MSM_EV_START event. */
int msm_soak_world(msm_ctx *ctx, uint64_t seed, msm_checker *chk);

/* ------------------------------------------------------ benchmark floor */

/* The physical floor of a decision, for benchmarks (no context, no state; not an
 * enforcement path).  Draws n (hypercall, sub-op) pairs from the workload's
 * generator (xoshiro256** seeded by splitmix64 from `seed`, as msm_sim_run), one
 * draw r per pair: nr = r & 63, subop = (r >> 6) & 255; and tests each against
 * `profile`'s bitmaps: nr's bit in `hypercalls` and, for hypercalls with sub-ops,
 * subop's bit in `subops[nr]` (rows of other hypercalls are ignored, as in
 * msm_check_hypercall).  No domain, rate window, counter or ring is touched: what
 * is left is the least work any decision does on a random stream.
 * `allowed` receives how many pairs the bitmaps allow; `ns_per_check` the
 * CLOCK_MONOTONIC time of the loop (draws included) divided by n.
 * Checks: profile, allowed, ns_per_check NULL (MSM_EINVAL); profile_size (MSM_ESIZE);
 * n not in 1..MSM_BENCH_MAX_CHECKS (MSM_ERANGE); the detail goes to
 * msm_last_error(NULL). */
#define MSM_BENCH_MAX_CHECKS 0x400000000ull   /* 2^34 */
int msm_bench_bitmap_floor(const msm_profile *profile, size_t profile_size, uint64_t seed,
                           uint64_t n, uint64_t *allowed, double *ns_per_check);

/* ---------------------------------------------------- evaluation (what-if) */

/* An evaluation context decides a recorded stream of events (msm_event) against
 * a staged policy with no side effect on any msm_ctx: it owns its policy copy,
 * its own domain table (domid -> SecLabel), Chinese Wall counters and 1 ms rate
 * windows.  It is not thread-safe.  Errors detail: msm_last_error(NULL).
 *
 * Life: msm_eval_new, msm_eval_put (every object of the staged policy),
 * msm_eval_seal (the reference/name checks of a commit, steps 1-5 of
 * msm_txn_commit), then any number of msm_eval_run batches: state (live domains,
 * windows) carries from one batch to the next, so a stream may be cut anywhere.
 * Domain 0 is live from the start; no other domain is until an MSM_EV_START.
 * To ask what a policy does to the domains running now, start each of them (in
 * domid order, as a commit re-admits them) at the head of the stream. */
typedef struct msm_eval msm_eval;

typedef enum msm_eval_decision {
    MSM_EVAL_ALLOW = 0,
    MSM_EVAL_DENY_PROFILE = 1,    /* hypercall (or its sub-op) not in the profile   */
    MSM_EVAL_DENY_RATE = 2,       /* over max_rate in its 1 ms window               */
    MSM_EVAL_DENY_CHANNEL = 3,    /* inter-domain channel refused                   */
    MSM_EVAL_DENY_DEVICE = 4,     /* device absent from the policy, tag differs, dom0 */
    MSM_EVAL_DENY_UNLABELLED = 5, /* start: no binding for the domain's uuid        */
    MSM_EVAL_DENY_CONFLICT = 6,   /* start: refused by a no-coresidence set         */
    MSM_EVAL_NOT_RUNNING = 7      /* the domain (or channel peer) is not live here:
                                     never started, refused, or destroyed          */
} msm_eval_decision;

#define MSM_EVAL_DECISIONS 8      /* by_decision[] slots                            */

typedef struct msm_eval_counts {
    uint64_t events;              /* events decided by this call                    */
    uint64_t by_decision[MSM_EVAL_DECISIONS];
    uint32_t live_domains;        /* live after the batch, dom0 included            */
    uint32_t _reserved;
} msm_eval_counts;

int msm_eval_new(msm_eval **out);
void msm_eval_free(msm_eval *ev);          /* NULL is a no-op */
/* Adds one object of the staged policy (as msm_txn_put: per-object checks,
 * MSM_EINVAL / MSM_ERANGE; MSM_ENOSPC past MSM_MAX_*); a put with the key of an
 * earlier object replaces it.  MSM_ESTATE once sealed. */
int msm_eval_put(msm_eval *ev, uint32_t type, const void *obj, size_t size);
/* Checks the policy as msm_txn_commit steps 1-5 do (same rules, same order,
 * same err fields); MSM_EVALIDATE leaves the context unsealed (put more, seal
 * again).  `err` may be NULL (err_size then ignored).  MSM_ESTATE when sealed. */
int msm_eval_seal(msm_eval *ev, msm_commit_error *err, size_t err_size);

/* Decides events[0..n) in order and writes one msm_eval_decision per event to
 * decisions[0..n).  `counts` (may be NULL) receives this batch's tallies.
 * The whole batch is checked before anything is decided (nothing changes on a
 * failure): ev, events, decisions NULL (EINVAL; events/decisions may be NULL
 * when n is 0); event_size, counts_size (ESIZE); not sealed (ESTATE); then per
 * event in order (EINVAL, the detail names the index): kind 1..5, domid <=
 * MSM_DOMID_MAX, START/DESTROY of domid 0, CHANNEL with a not 1..2, peer b >
 * MSM_DOMID_MAX or b == domid.
 * Rules, each as its live counterpart decides under the staged policy:
 *   HYPERCALL (a = nr, b = sub-op): dom0 ALLOW; domain not live NOT_RUNNING;
 *     else the steps of msm_check_hypercall (window counter, profile, rate)
 *     against the domain's staged SecLabel;
 *   CHANNEL (a = kind, b = peer): src or peer not live NOT_RUNNING; else the
 *     rules of msm_check_channel (tag and label) with the staged tags, roles,
 *     sets and profiles;
 *   DEVICE (a = bdf): not live NOT_RUNNING; dom0, a device absent from the staged
 *     policy, or a device tag other than the domain's DENY_DEVICE (assignments
 *     are not tracked: a recorded assignment was released or is still held);
 *   START (uuid): a live domid is first destroyed (as DESTROY); no binding for
 *     uuid DENY_UNLABELLED; the Chinese Wall of msm_domain_create DENY_CONFLICT;
 *     else ALLOW and the domain is live with a fresh window;
 *   DESTROY: not live NOT_RUNNING, else ALLOW and its Chinese Wall counts go.
 * Denials are only reported: no violation count, no stop at max_violations, no
 * ring (a what-if shows every call the policy would deny). */
int msm_eval_run(msm_eval *ev, const msm_event *events, size_t event_size, uint32_t n,
                 uint8_t *decisions, msm_eval_counts *counts, size_t counts_size);

#endif /* XENON_MSM_H */

/* test_xen.c -- the xen backend's wire encoding, byte for byte, with an injected ioctl. */
#include <dlfcn.h>
#include <stdint.h>

#include "harness.h"
#include "msm.h"
#include "msm_xen.h"

/* A fake hypervisor: records the last call and answers as configured. */
typedef struct fake {
    int calls;
    int fd;
    unsigned long request;
    uint64_t call[6];         /* privcmd_hypercall: op, arg[0..4] */
    uint8_t sent[4096];       /* header + payload as sent */
    uint32_t sent_len;
    long rc;                  /* ioctl result (negative errno) */
    long rc_version;          /* result for GET_VERSION */
    uint32_t version;
    int32_t status;
    uint32_t decision;
    uint32_t drain_n;
} fake;

static long fake_ioctl(int fd, unsigned long request, void *arg, void *user)
{
    fake *f = user;
    f->calls++;
    f->fd = fd;
    f->request = request;
    memcpy(f->call, arg, sizeof f->call);
    uint8_t *buf = (uint8_t *)(uintptr_t)f->call[1];
    msm_xen_hdr h;
    memcpy(&h, buf, sizeof h);
    f->sent_len = (uint32_t)sizeof h + h.payload_size;
    memcpy(f->sent, buf, f->sent_len < sizeof f->sent ? f->sent_len : sizeof f->sent);
    if (h.cmd == MSM_XEN_GET_VERSION) {
        if (f->rc_version)
            return f->rc_version;
        msm_xen_version v = {f->version, 0};
        memcpy(buf + sizeof h, &v, sizeof v);
        return 0;
    }
    if (f->rc)
        return f->rc;
    uint8_t *p = buf + sizeof h;
    if (h.cmd == MSM_XEN_CHECK_HYPERCALL || h.cmd == MSM_XEN_CHECK_CHANNEL)
        memcpy(p + 12, &f->decision, 4);
    if (h.cmd == MSM_XEN_RING_DRAIN) {
        msm_xen_drain d;
        memcpy(&d, p, sizeof d);
        d.n = f->drain_n < d.max ? f->drain_n : d.max;
        d.dropped = 3;
        memcpy(p, &d, sizeof d);
        for (uint32_t i = 0; i < d.n; i++) {
            msm_violation v;
            memset(&v, 0, sizeof v);
            v.domid = 10 + i;
            v.count = i + 1;
            memcpy(p + sizeof d + i * sizeof v, &v, sizeof v);
        }
        f->drain_n -= d.n;
    }
    h.status = f->status;
    memcpy(buf, &h, sizeof h);
    return 0;
}

static const uint8_t HDR_MAGIC_VERSION[] = {0x00, 0x4D, 0x53, 0x4D, 0x03, 0x00, 0x01, 0x00};

static msm_ctx *open_fake(fake *f)
{
    memset(f, 0, sizeof *f);
    f->version = MSM_INTERFACE_VERSION;
    msm_ctx *c = NULL;
    CHECK_EQ(msm_open_xen(NULL, fake_ioctl, f, &c), MSM_OK);
    return c;
}

static void check_sent(const fake *f, const uint8_t *want, size_t len)
{
    CHECK_EQ(f->sent_len, len);
    CHECK(memcmp(f->sent, want, len) == 0);
    if (memcmp(f->sent, want, len) != 0) {
        for (size_t i = 0; i < len; i++)
            if (f->sent[i] != want[i])
                fprintf(stderr, "  byte %zu: sent %02x, want %02x\n", i, f->sent[i], want[i]);
    }
}

static void test_open_get_version(void)
{
    fake f;
    msm_ctx *c = open_fake(&f);
    CHECK(c != NULL);
    CHECK_EQ(f.calls, 1);
    CHECK_EQ(f.fd, -1);
    CHECK_EQ(f.request, 0x00305000ul);
    CHECK_EQ(f.call[0], 27);
    CHECK(f.call[1] != 0);
    CHECK_EQ(f.call[1] % 4096, 0); /* a page of its own (mmap) */
    CHECK_EQ(f.call[2] | f.call[3] | f.call[4] | f.call[5], 0);
    static const uint8_t want[] = {
        0x00, 0x4D, 0x53, 0x4D, 0x03, 0x00, 0x01, 0x00, /* magic, interface 0x00010003 */
        0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, /* GET_VERSION, 8 bytes        */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* status, reserved            */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* version (out), reserved     */
    };
    check_sent(&f, want, sizeof want);
    msm_close(c);
}

static void test_commands_bytes(void)
{
    fake f;
    msm_ctx *c = open_fake(&f);
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_EMPTY), MSM_OK);
    {
        static const uint8_t want[] = {
            0x00, 0x4D, 0x53, 0x4D, 0x03, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        };
        check_sent(&f, want, sizeof want);
    }
    CHECK_EQ(msm_device_assign(c, 5, 0x00010203), MSM_OK);
    {
        static const uint8_t want[] = {
            0x00, 0x4D, 0x53, 0x4D, 0x03, 0x00, 0x01, 0x00, 0x0B, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x05, 0x00, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
        };
        check_sent(&f, want, sizeof want);
    }
    f.decision = MSM_DENY_RATE;
    uint32_t dec = 99;
    CHECK_EQ(msm_check_hypercall(c, 7, 36, 2, 0x0102030405060708ull, &dec), MSM_OK);
    CHECK_EQ(dec, MSM_DENY_RATE);
    {
        static const uint8_t want[] = {
            0x00, 0x4D, 0x53, 0x4D, 0x03, 0x00, 0x01, 0x00, 0x0D, 0x00, 0x00, 0x00,
            0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x07, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        };
        check_sent(&f, want, sizeof want);
    }
    CHECK_EQ(msm_check_channel(c, MSM_CHAN_GRANT, 3, 4, 1, &dec), MSM_OK);
    CHECK_EQ(f.sent[8], MSM_XEN_CHECK_CHANNEL);
    CHECK_EQ(f.sent[24], MSM_CHAN_GRANT);
    CHECK_EQ(f.sent[28], 3);
    CHECK_EQ(f.sent[32], 4);
    CHECK_EQ(msm_txn_delete(c, MSM_OBJ_DEVICE, NULL, 0x1234), MSM_OK);
    {
        uint8_t want[24 + 24] = {
            0x00, 0x4D, 0x53, 0x4D, 0x03, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00,
            0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x06, 0x00, 0x00, 0x00, 0x34, 0x12, 0x00, 0x00, /* type, bdf; uuid zero */
        };
        check_sent(&f, want, sizeof want);
    }
    msm_tag t;
    memset(&t, 0xEE, sizeof t);
    for (int i = 0; i < 16; i++)
        t.id.b[i] = (uint8_t)(i + 1);
    strcpy(t.name, "red");
    CHECK_EQ(msm_txn_put(c, MSM_OBJ_TAG, &t, sizeof t), MSM_OK);
    {
        uint8_t want[24 + 8 + 80];
        memset(want, 0, sizeof want);
        memcpy(want, HDR_MAGIC_VERSION, 8);
        want[8] = 0x04;
        want[12] = 0x58; /* 88 = 8 + sizeof(msm_tag) */
        want[24] = 0x02;
        want[28] = 0x50; /* 80 */
        for (int i = 0; i < 16; i++)
            want[32 + i] = (uint8_t)(i + 1);
        memcpy(want + 48, "red", 3); /* the rest of the name normalised to 0 */
        check_sent(&f, want, sizeof want);
    }
    CHECK_EQ(msm_txn_abort(c), MSM_OK);
    CHECK_EQ(f.sent_len, 24);
    CHECK_EQ(f.sent[8], MSM_XEN_TXN_ABORT);
    CHECK_EQ(msm_domain_reset_violations(c, 0x01020304), MSM_OK);
    CHECK_EQ(f.sent[8], MSM_XEN_RESET_VIOLATIONS);
    CHECK_EQ(f.sent[24] | f.sent[25] << 8 | f.sent[26] << 16 | f.sent[27] << 24, 0x01020304);
    /* Argument checks happen before anything is sent. */
    int before = f.calls;
    memset(t.name, 'x', sizeof t.name);
    CHECK_EQ(msm_txn_put(c, MSM_OBJ_TAG, &t, sizeof t), MSM_EINVAL);
    CHECK_EQ(msm_txn_begin(c, 5), MSM_EINVAL);
    CHECK_EQ(f.calls, before);
    msm_close(c);
}

static void test_status_and_drain(void)
{
    fake f;
    msm_ctx *c = open_fake(&f);
    f.status = MSM_EBUSY;
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_EBUSY);
    CHECK(strstr(msm_last_error(c), "MSM_EBUSY") != NULL);
    f.status = 77;
    CHECK_EQ(msm_txn_begin(c, MSM_TXN_COPY), MSM_EIO);
    f.status = MSM_OK;
    f.drain_n = 5;
    msm_violation v[8];
    uint32_t n = 0;
    uint64_t dropped = 0;
    CHECK_EQ(msm_ring_drain(c, v, sizeof v[0], 8, &n, &dropped), MSM_OK);
    CHECK_EQ(n, 5);
    CHECK_EQ(dropped, 3);
    CHECK_EQ(v[4].domid, 14);
    CHECK_EQ(v[4].count, 5);
    CHECK_EQ(f.sent[24], 8); /* max */
    CHECK_EQ(f.sent_len, 24 + 16 + 8 * sizeof(msm_violation));
    msm_info info;
    CHECK_EQ(msm_get_info(c, &info, sizeof info), MSM_OK);
    CHECK_EQ(info.backend, MSM_BACKEND_XEN);
    CHECK_EQ(f.sent[8], MSM_XEN_GET_INFO);
    f.rc = -1; /* EPERM: e.g. a restricted privcmd handle */
    CHECK_EQ(msm_txn_abort(c), MSM_EIO);
    CHECK(strstr(msm_last_error(c), "Operation not permitted") != NULL);
    msm_close(c);
}

static void test_sim_only_enosys(void)
{
    fake f;
    msm_ctx *c = open_fake(&f);
    msm_domain_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.uuid.b[0] = 1;
    strcpy(cfg.name, "x");
    cfg.guest_type = MSM_GUEST_PV;
    cfg.os = MSM_OS_LINUX;
    cfg.mem_kb = cfg.maxmem_kb = 2048;
    cfg.vcpus = cfg.max_vcpus = 1;
    uint32_t d;
    CHECK_EQ(msm_domain_create(c, &cfg, sizeof cfg, &d), MSM_ENOSYS);
    CHECK_EQ(msm_domain_pause(c, 1), MSM_ENOSYS);
    CHECK_EQ(msm_domain_destroy(c, 1), MSM_ENOSYS);
    msm_run_counts rc;
    CHECK_EQ(msm_sim_run(c, 1, &rc, sizeof rc), MSM_ENOSYS);
    uint8_t b[4];
    CHECK_EQ(msm_domain_read(c, 1, 0, b, 4), MSM_ENOSYS);
    void *lib = dlopen("libxenstat.so.4", RTLD_NOW);
    msm_domain_info di[2];
    uint32_t n = 0;
    if (!lib) {
        CHECK_EQ(msm_domain_list(c, di, sizeof di[0], 2, &n), MSM_ENOSYS);
        CHECK(strstr(msm_last_error(c), "libxenstat") != NULL);
        fprintf(stderr, "  (libxenstat absent: ENOSYS path)\n");
    } else if (dlsym(lib, "xenstat_domain_crashed") && getenv("MSM_FAKE_XENSTAT")) {
        /* native/tests/fake_xenstat.c: domains 0, 3 (paused), 7 (crashed). */
        CHECK_EQ(msm_domain_list(c, di, sizeof di[0], 2, &n), MSM_OK);
        CHECK_EQ(n, 3);
        CHECK_EQ(di[0].domid, 0);
        CHECK(strcmp(di[0].name, "Domain-0") == 0);
        CHECK_EQ(di[0].state, MSM_STATE_RUNNING);
        CHECK_EQ(di[0].max_mem_kb, UINT64_MAX);
        CHECK_EQ(di[0].cpu_ns, 5000000000ull);
        CHECK_EQ(di[1].domid, 3);
        CHECK_EQ(di[1].state, MSM_STATE_PAUSED);
        CHECK_EQ(di[1].cur_mem_kb, 262144);
        CHECK_EQ(di[1].max_mem_kb, 524288);
        CHECK_EQ(di[1].vcpus_online, 2);
        CHECK_EQ(di[1].max_vcpus, 4);
        msm_domain_info one;
        CHECK_EQ(msm_domain_get(c, 7, &one, sizeof one), MSM_OK);
        CHECK_EQ(one.state, MSM_STATE_SHUTDOWN);
        CHECK_EQ(one.shutdown_reason, MSM_SHUTDOWN_CRASH);
        CHECK_EQ(msm_domain_get(c, 4, &one, sizeof one), MSM_ENOENT);
        fprintf(stderr, "  (fake libxenstat: list/get path)\n");
    }
    if (lib)
        dlclose(lib);
    msm_close(c);
}

static void test_open_errors(void)
{
    msm_ctx *c = (msm_ctx *)1;
    CHECK_EQ(msm_open_xen("/nonexistent/xen/privcmd", NULL, NULL, &c), MSM_ENOXEN);
    CHECK(c == NULL);
    CHECK(strstr(msm_last_error(NULL), "/nonexistent/xen/privcmd") != NULL);
    if (msm_open_xen(NULL, NULL, NULL, &c) == MSM_ENOXEN) {
        CHECK(strstr(msm_last_error(NULL), "/dev/xen/privcmd") != NULL);
        CHECK(strstr(msm_last_error(NULL), "/proc/xen/privcmd") != NULL);
    } else {
        msm_close(c);
    }
    fake f;
    memset(&f, 0, sizeof f);
    f.rc_version = -38; /* -ENOSYS: no MSM in this hypervisor */
    CHECK_EQ(msm_open_xen(NULL, fake_ioctl, &f, &c), MSM_ENOMSM);
    CHECK(strstr(msm_last_error(NULL), "no MSM module") != NULL);
    f.rc_version = -22;
    CHECK_EQ(msm_open_xen(NULL, fake_ioctl, &f, &c), MSM_ENOMSM);
    f.rc_version = -13;
    CHECK_EQ(msm_open_xen(NULL, fake_ioctl, &f, &c), MSM_EIO);
    f.rc_version = 0;
    f.version = 0x00020000;
    CHECK_EQ(msm_open_xen(NULL, fake_ioctl, &f, &c), MSM_EVERSION);
    f.version = 0x00010007; /* a newer minor is fine */
    CHECK_EQ(msm_open_xen(NULL, fake_ioctl, &f, &c), MSM_OK);
    msm_close(c);
    CHECK_EQ(msm_open_xen(NULL, fake_ioctl, &f, NULL), MSM_EINVAL);
}

int main(void)
{
    RUN(test_open_get_version);
    RUN(test_commands_bytes);
    RUN(test_status_and_drain);
    RUN(test_sim_only_enosys);
    RUN(test_open_errors);
    return h_finish();
}

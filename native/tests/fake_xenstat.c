/* fake_xenstat.c -- a stand-in libxenstat.so.4 with three fixed domains, so the
 * xen backend's dlopen path and field mapping can be tested without Xen. */
#include <stdlib.h>

typedef struct fake_vcpu { unsigned int online; } fake_vcpu;
typedef struct fake_dom {
    unsigned int id, paused, shutdown, crashed, nvcpus;
    const char *name;
    unsigned long long cpu_ns, cur_mem, max_mem;
    fake_vcpu vcpus[4];
} fake_dom;

static fake_dom doms[3] = {
    {0, 0, 0, 0, 2, "Domain-0", 5000000000ull, 1073741824ull, (unsigned long long)-1, {{1}, {1}}},
    {3, 1, 0, 0, 4, "web", 42ull, 268435456ull, 536870912ull, {{1}, {0}, {1}, {0}}},
    {7, 0, 1, 1, 1, "crashy", 7ull, 134217728ull, 134217728ull, {{1}}},
};
static int handles;

void *xenstat_init(void) { handles++; return &handles; }
void xenstat_uninit(void *h) { (void)h; handles--; }
void *xenstat_get_node(void *h, unsigned int flags) { (void)h; (void)flags; return doms; }
void xenstat_free_node(void *n) { (void)n; }
unsigned int xenstat_node_num_domains(void *n) { (void)n; return 3; }
void *xenstat_node_domain_by_index(void *n, unsigned int i) { (void)n; return i < 3 ? &doms[i] : NULL; }
unsigned int xenstat_domain_id(void *d) { return ((fake_dom *)d)->id; }
char *xenstat_domain_name(void *d) { return (char *)((fake_dom *)d)->name; }
unsigned long long xenstat_domain_cpu_ns(void *d) { return ((fake_dom *)d)->cpu_ns; }
unsigned int xenstat_domain_num_vcpus(void *d) { return ((fake_dom *)d)->nvcpus; }
void *xenstat_domain_vcpu(void *d, unsigned int v) { return &((fake_dom *)d)->vcpus[v]; }
unsigned int xenstat_vcpu_online(void *v) { return ((fake_vcpu *)v)->online; }
unsigned long long xenstat_domain_cur_mem(void *d) { return ((fake_dom *)d)->cur_mem; }
unsigned long long xenstat_domain_max_mem(void *d) { return ((fake_dom *)d)->max_mem; }
unsigned int xenstat_domain_paused(void *d) { return ((fake_dom *)d)->paused; }
unsigned int xenstat_domain_shutdown(void *d) { return ((fake_dom *)d)->shutdown; }
unsigned int xenstat_domain_crashed(void *d) { return ((fake_dom *)d)->crashed; }

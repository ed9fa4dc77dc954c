/* harness.h -- a tiny assert harness: CHECK continues, the run fails at the end. */
#ifndef XENON_MSM_HARNESS_H
#define XENON_MSM_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_failures, h_checks;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        h_checks++;                                                                      \
        if (!(cond)) {                                                                   \
            h_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_EQ(a, b)                                                                   \
    do {                                                                                 \
        long long _a = (long long)(a), _b = (long long)(b);                              \
        h_checks++;                                                                      \
        if (_a != _b) {                                                                  \
            h_failures++;                                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__, \
                    __LINE__, #a, _a, #b, _b);                                           \
        }                                                                                \
    } while (0)

#define RUN(test)                                                                        \
    do {                                                                                 \
        int _before = h_failures;                                                        \
        test();                                                                          \
        fprintf(stderr, "%-40s %s\n", #test, h_failures == _before ? "ok" : "FAILED");   \
    } while (0)

static inline int h_finish(void)
{
    fprintf(stderr, "%d checks, %d failures\n", h_checks, h_failures);
    return h_failures ? 1 : 0;
}

#endif /* XENON_MSM_HARNESS_H */

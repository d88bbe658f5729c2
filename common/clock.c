/* common/clock.c: monotonic and wall clocks, duration formatting. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_read_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_ns(void)
{
    return clock_read_ns(CLOCK_MONOTONIC);
}

int64_t clock_mono_ms(void)
{
    return clock_read_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t clock_wall_ms(void)
{
    return clock_read_ns(CLOCK_REALTIME) / 1000000;
}

int64_t clock_cpu_ms(void)
{
    return clock_read_ns(CLOCK_PROCESS_CPUTIME_ID) / 1000000;
}

const char *clock_fmt_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        snprintf(out, outlen, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(out, outlen, "%lld.%02llds", (long long)(ms / 1000),
                 (long long)(ms % 1000 / 10));
    else
        snprintf(out, outlen, "%lldm%02llds", (long long)(ms / 60000),
                 (long long)(ms % 60000 / 1000));
    return out;
}

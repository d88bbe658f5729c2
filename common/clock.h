/* common/clock.h: time. Deadlines and timers use the monotonic clock in
 * milliseconds; wall-clock time is only for records and log stamps. */
#ifndef DROVER_CLOCK_H
#define DROVER_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds since an arbitrary origin. */
int64_t clock_mono_ms(void);

/* Monotonic nanoseconds, for measurements. */
int64_t clock_mono_ns(void);

/* Wall-clock milliseconds since the epoch. */
int64_t clock_wall_ms(void);

/* Process CPU time (user + system) in milliseconds. */
int64_t clock_cpu_ms(void);

/* Format ms as "1.25s", "340ms", "2m05s" into out; returns out. */
const char *clock_fmt_duration(int64_t ms, char *out, size_t outlen);

#endif

/* Logging with levels and per-subsystem channels. */
#ifndef US_CORE_LOG_H
#define US_CORE_LOG_H

#include "ustack/ustack.h"

#if defined(__GNUC__)
#define US_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define US_PRINTF(a, b)
#endif

void us_log_emit(struct ustack *s, enum us_log_chan chan, enum us_log_level level, const char *fmt,
                 ...) US_PRINTF(4, 5);
int us_log_enabled(const struct ustack *s, enum us_log_chan chan, enum us_log_level level);

#define US_LOG(s, chan, level, ...)                                                                \
    do {                                                                                           \
        if (us_log_enabled((s), (chan), (level)))                                                  \
            us_log_emit((s), (chan), (level), __VA_ARGS__);                                        \
    } while (0)

#define US_DEBUG(s, chan, ...) US_LOG(s, chan, US_LOG_DEBUG, __VA_ARGS__)
#define US_INFO(s, chan, ...) US_LOG(s, chan, US_LOG_INFO, __VA_ARGS__)
#define US_WARN(s, chan, ...) US_LOG(s, chan, US_LOG_WARN, __VA_ARGS__)

#endif

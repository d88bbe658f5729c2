/* coordinator/stepid.c: formatting step ids. */
#include "stepid.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const stepid_phase_names[STEPID_PHASE_COUNT] = {
    "precheck", "before", "deploy", "rollback", "smoke", "check"};

const char *stepid_phase_name(enum stepid_phase p)
{
    return p < STEPID_PHASE_COUNT ? stepid_phase_names[p] : "?";
}

bool stepid_phase_parse(const char *s, enum stepid_phase *out)
{
    for (int i = 0; s != NULL && i < STEPID_PHASE_COUNT; i++)
        if (strcmp(s, stepid_phase_names[i]) == 0) {
            *out = (enum stepid_phase)i;
            return true;
        }
    return false;
}

static bool stepid_plain(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* The host part: escaped, or "#" and a 64-bit FNV-1a hash when long. */
static void stepid_host(const char *host, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = host ? host : ""; *p; p++) {
        char tmp[4];
        unsigned char c = (unsigned char)*p;
        if (stepid_plain((char)c))
            snprintf(tmp, sizeof(tmp), "%c", c);
        else if (c == '_')
            snprintf(tmp, sizeof(tmp), "__");
        else
            snprintf(tmp, sizeof(tmp), "_%02X", c);
        size_t tl = strlen(tmp);
        if (n + tl > STEPID_HOST_MAX) {
            uint64_t h = 1469598103934665603ULL;
            for (const char *q = host; *q; q++)
                h = (h ^ (unsigned char)*q) * 1099511628211ULL;
            snprintf(out, outlen, "_H%016" PRIx64, h);
            return;
        }
        memcpy(out + n, tmp, tl + 1);
        n += tl;
    }
}

const char *stepid_format(const struct stepid *id, char *out, size_t outlen)
{
    char host[STEPID_HOST_MAX + 1];
    stepid_host(id->host, host, sizeof(host));
    char pass[16] = "";
    if (id->pass > 0)
        snprintf(pass, sizeof(pass), ".%u", id->pass);
    snprintf(out, outlen, "%.40s:%s:%s%s:%u:%u:%" PRIu64,
             id->deploy ? id->deploy : "run", host,
             stepid_phase_name(id->phase), pass, id->step, id->attempt,
             id->gen);
    return out;
}

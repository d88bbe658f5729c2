/* coordinator/jsonout.c: redacted JSON output (jsonout.h). */
#include "jsonout.h"

#include "log.h"
#include "redact.h"

#include <stdlib.h>
#include <string.h>

void jsonout_scrub(json_t *j)
{
    if (json_is_string(j)) {
        char *safe = log_redacted(json_string_value(j), json_string_length(j));
        if (strcmp(safe, json_string_value(j)) != 0 &&
            json_string_set(j, safe) != 0)
            json_string_set(j, REDACT_MARK);
        explicit_bzero(safe, strlen(safe));
        free(safe);
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            jsonout_scrub(json_array_get(j, i));
    } else if (json_is_object(j)) {
        for (void *it = json_object_iter(j); it != NULL;
             it = json_object_iter_next(j, it))
            jsonout_scrub(json_object_iter_value(it));
    }
}

void jsonout_print(FILE *f, json_t *j, size_t flags)
{
    jsonout_scrub(j);
    char *s = json_dumps(j, flags);
    if (s != NULL) {
        fputs(s, f);
        fputc('\n', f);
        fflush(f);
    }
    free(s);
}

/* inventory/inventory.c: load an inventory as Ansible does: which files
 * a source names (a file, a directory of them, a host list), which reader
 * takes each (inv_ini.c, inv_yaml.c), and the group_vars/ and host_vars/
 * next to each source; then select hosts with a pattern (inv_pattern.c).
 * The model they fill is inv_model.c. */
#include "inventory.h"

#include "err.h"
#include "inv_ini.h"
#include "strmap.h"
#include "inv_pattern.h"
#include "inv_yaml.h"
#include "log.h"
#include "readfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- reading sources ------------------------------------------------------ */

static enum err_code inv_read_file(const char *path, char **data, size_t *len,
                                   struct err *e)
{
    switch (readfile(path, INV_FILE_MAX, 0, data, len)) {
    case READFILE_OK:
        return ERR_OK;
    case READFILE_OPEN:
        return err_sys(e, "%s: cannot open", path);
    case READFILE_STAT:
        return err_sys(e, "%s: cannot stat", path);
    case READFILE_BIG:
        return err_set(e, ERR_LIMIT, "%s: larger than %d bytes", path,
                       INV_FILE_MAX);
    default:
        return err_sys(e, "%s: cannot read", path);
    }
}

/* The extension of a path's last component, "" if none. */
static const char *inv_ext(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot != NULL && dot != base ? dot : "";
}

static bool inv_is_yaml_ext(const char *ext)
{
    return strcmp(ext, ".yml") == 0 || strcmp(ext, ".yaml") == 0 ||
           strcmp(ext, ".json") == 0;
}

enum err_code inv_load_buffer(struct inventory *inv, const char *name,
                              const char *data, size_t len,
                              enum inv_format format, struct err *e)
{
    if (format == INV_FORMAT_AUTO) {
        const char *ext = inv_ext(name);
        if (inv_is_yaml_ext(ext))
            format = INV_FORMAT_YAML;
        else if (ext[0] == '\0' && inv_yaml_probe(data, len))
            /* Ansible tries its YAML reader first on a file without an
             * extension, then INI. */
            format = INV_FORMAT_YAML;
        else
            format = INV_FORMAT_INI;
    }
    enum err_code c;
    /* Parse against the graph as the sources made it, as Ansible does
     * (it reconciles once, after the last source). */
    inv_unreconcile(inv);
    if (format == INV_FORMAT_YAML)
        c = inv_yaml_parse(inv, name, data, len, e);
    else
        c = inv_ini_parse(inv, name, data, len, e);
    inv_reconcile(inv);
    return c;
}

/* Ansible's INVENTORY_IGNORE_EXTS and the names it always skips when
 * reading a directory of inventories. */
static bool inv_dir_ignored(const char *name)
{
    static const char *const exts[] = {
        ".pyc", ".pyo", ".swp",  ".bak", "~",    ".rpm",   ".md",
        ".txt", ".rst", ".orig", ".ini", ".cfg", ".retry",
    };
    if (name[0] == '.' || strcmp(name, "host_vars") == 0 ||
        strcmp(name, "group_vars") == 0 || strcmp(name, "vars_plugins") == 0)
        return true;
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t m = strlen(exts[i]);
        if (n >= m && strcmp(name + n - m, exts[i]) == 0)
            return true;
    }
    return false;
}

static int inv_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dir (caller frees each and the array). */
static enum err_code inv_list_dir(const char *dir, char ***out, size_t *n,
                                  struct err *e)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return err_sys(e, "%s: cannot read directory", dir);
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[count++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (count > 0)
        qsort(names, count, sizeof(*names), inv_cmp_str);
    *out = names;
    *n = count;
    return ERR_OK;
}

static enum err_code inv_load_path(struct inventory *inv, const char *path,
                                   int depth, struct err *e);

static enum err_code inv_load_dir(struct inventory *inv, const char *dir,
                                  int depth, struct err *e)
{
    char **names;
    size_t n;
    enum err_code c = inv_list_dir(dir, &names, &n, e);
    for (size_t i = 0; i < n; i++) {
        if (c == ERR_OK && !inv_dir_ignored(names[i])) {
            char *full = xasprintf("%s/%s", dir, names[i]);
            c = inv_load_path(inv, full, depth + 1, e);
            free(full);
        }
        free(names[i]);
    }
    free(names);
    return c;
}

static enum err_code inv_load_path(struct inventory *inv, const char *path,
                                   int depth, struct err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return err_sys(e, "%s: cannot read inventory", path);
    if (S_ISDIR(st.st_mode)) {
        if (depth > 32)
            return err_set(e, ERR_LIMIT,
                           "%s: inventory directories nested too deep", path);
        return inv_load_dir(inv, path, depth, e);
    }
    char *data;
    size_t len;
    enum err_code c = inv_read_file(path, &data, &len, e);
    if (c != ERR_OK)
        return c;
    c = inv_load_buffer(inv, path, data, len, INV_FORMAT_AUTO, e);
    free(data);
    return c;
}

/* "a,b:2222,c" (Ansible's host_list source): hosts in "ungrouped". */
static enum err_code inv_load_host_list(struct inventory *inv, const char *src,
                                        struct err *e)
{
    inv_unreconcile(inv);
    enum err_code c = inv_ini_host_list(inv, src, e);
    inv_reconcile(inv);
    return c;
}

static enum err_code inv_load_vars(struct inventory *inv, struct err *e);

enum err_code inv_load(struct inventory *inv, const char *src, struct err *e)
{
    struct stat st;
    if (stat(src, &st) != 0) {
        if (strchr(src, ',') != NULL)
            return inv_load_host_list(inv, src, e);
        return err_sys(e,
                       "%s: cannot read inventory (give a file, a "
                       "directory or a comma-separated host list)",
                       src);
    }
    enum err_code c = inv_load_path(inv, src, 0, e);
    if (c != ERR_OK)
        return c;
    if (S_ISDIR(st.st_mode)) {
        inv_vars_dir_push(inv, src);
    } else {
        char *dir = xstrdup(src);
        char *slash = strrchr(dir, '/');
        if (slash == NULL) {
            free(dir);
            dir = xstrdup(".");
        } else if (slash == dir) {
            dir[1] = '\0';
        } else {
            *slash = '\0';
        }
        inv_vars_dir_push(inv, dir);
        free(dir);
    }
    return inv_load_vars(inv, e);
}

/* --- group_vars/ and host_vars/ ---------------------------------------------
 * Ansible's host_group_vars plugin: for an entity NAME, the first of NAME,
 * NAME.yml, NAME.yaml, NAME.json that exists; a directory is read
 * recursively in sorted order (no hidden files, no backups "~", only those
 * extensions or none), each file merged over the last. */

/* Merge the vars files of one path (a file or a directory) into acc. */
static enum err_code inv_vars_path(const char *path, json_t *acc, int depth,
                                   struct err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return err_sys(e, "%s: cannot read", path);
    if (!S_ISDIR(st.st_mode)) {
        char *data;
        size_t len;
        enum err_code c = inv_read_file(path, &data, &len, e);
        if (c != ERR_OK)
            return c;
        json_t *obj = NULL;
        c = inv_yaml_vars(path, data, len, &obj, e);
        free(data);
        if (c != ERR_OK)
            return c;
        if (obj != NULL)
            json_object_update(acc, obj);
        json_decref(obj);
        return ERR_OK;
    }
    if (depth > 32)
        return err_set(e, ERR_LIMIT, "%s: directories nested too deep", path);
    char **names;
    size_t n;
    enum err_code c = inv_list_dir(path, &names, &n, e);
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        size_t len = strlen(nm);
        const char *ext = inv_ext(nm);
        if (c == ERR_OK && nm[0] != '.' && nm[len - 1] != '~') {
            char *full = xasprintf("%s/%s", path, nm);
            struct stat sub;
            if (stat(full, &sub) == 0 &&
                ((S_ISDIR(sub.st_mode) && ext[0] == '\0') ||
                 (S_ISREG(sub.st_mode) &&
                  (ext[0] == '\0' || inv_is_yaml_ext(ext)))))
                c = inv_vars_path(full, acc, depth + 1, e);
            free(full);
        }
        free(names[i]);
    }
    free(names);
    return c;
}

/* The vars of entity name found in dir/kind/ (NULL if none). */
static enum err_code inv_vars_entity(const char *sub,
                                     const struct strmap *present,
                                     const char *name, json_t **out,
                                     struct err *e)
{
    static const char *const exts[] = {"", ".yml", ".yaml", ".json"};
    *out = NULL;
    for (size_t i = 0; i < 4; i++) {
        char *fname = xasprintf("%s%s", name, exts[i]);
        bool there = strmap_get(present, fname) != NULL;
        free(fname);
        if (!there)
            continue;
        char *full = xasprintf("%s/%s%s", sub, name, exts[i]);
        json_t *acc = json_object();
        enum err_code c = inv_vars_path(full, acc, 0, e);
        free(full);
        if (c != ERR_OK) {
            json_decref(acc);
            return c;
        }
        *out = acc;
        return ERR_OK;
    }
    return ERR_OK;
}

static enum err_code inv_load_vars_kind(struct inventory *inv, size_t vi,
                                        bool hosts, struct err *e)
{
    char *sub = xasprintf("%s/%s", inv_vars_dir_at(inv, vi),
                          hosts ? "host_vars" : "group_vars");
    struct stat st;
    if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(sub);
        return ERR_OK;
    }
    char **names;
    size_t n;
    enum err_code c = inv_list_dir(sub, &names, &n, e);
    if (c != ERR_OK) {
        free(sub);
        return c;
    }
    /* One readdir instead of four stat() per host. */
    struct strmap present;
    strmap_init(&present);
    for (size_t i = 0; i < n; i++)
        strmap_put(&present, names[i], names[i]);
    size_t count = hosts ? inv_host_count(inv) : inv_group_count(inv);
    for (size_t i = 0; i < count && c == ERR_OK; i++) {
        const char *name = hosts ? inv_host_name(inv_host_at(inv, i))
                                 : inv_group_name(inv_group_at(inv, i));
        json_t *obj;
        if (strchr(name, '/') != NULL)
            continue;
        c = inv_vars_entity(sub, &present, name, &obj, e);
        if (c != ERR_OK || obj == NULL)
            continue;
        if (hosts)
            inv_host_set_file_vars(inv, i, vi, obj);
        else
            inv_group_set_file_vars(inv, i, vi, obj);
    }
    strmap_release(&present);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(sub);
    return c;
}

static enum err_code inv_load_vars(struct inventory *inv, struct err *e)
{
    inv_file_vars_clear(inv);
    for (size_t vi = 0; vi < inv_vars_dir_count(inv); vi++) {
        enum err_code c = inv_load_vars_kind(inv, vi, false, e);
        if (c == ERR_OK)
            c = inv_load_vars_kind(inv, vi, true, e);
        if (c != ERR_OK)
            return c;
    }
    return ERR_OK;
}

enum err_code inv_select(const struct inventory *inv, const char *pattern,
                         const struct inv_host ***out, size_t *n, struct err *e)
{
    return inv_pattern_select(inv, pattern, out, n, e);
}

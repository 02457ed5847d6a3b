/*
 * Address map: loading the JSON map format (lib/addr-map.h) from a file or
 * a string, with its limits and file checks, through the map's public API.
 */
#include <config.h>

#include "addr-map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ib-gid.h"
#include "ib-hdr.h"

static void
set_err(char *err, size_t err_size, const char *format, ...)
{
    va_list args;

    if (!err_size) {
        return;
    }
    va_start(args, format);
    vsnprintf(err, err_size, format, args);
    va_end(args);
}

static int
json_addr(json_t *v, const char *what, size_t idx, const char *key,
          uint8_t addr[16], char *err, size_t err_size)
{
    const char *s = json_string_value(v);

    if (!s || ibb_gid_parse(s, addr)) {
        set_err(err, err_size, "%s[%zu].%s: expected an address string",
                what, idx, key);
        return EINVAL;
    }
    return 0;
}

static int
json_uint(json_t *v, const char *what, size_t idx, const char *key,
          long long min, long long max, long long *out,
          char *err, size_t err_size)
{
    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max) {
        set_err(err, err_size, "%s[%zu].%s: expected an integer in "
                "%lld..%lld", what, idx, key, min, max);
        return EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    char c;

    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
               &b[4], &b[5], &c) != 6) {
        return EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = b[i];
    }
    return 0;
}

static int
load_host(struct ibb_addr_map *map, json_t *obj, size_t idx,
          char *err, size_t err_size)
{
    struct ibb_host h;
    const char *key;
    json_t *v;
    int error;

    memset(&h, 0, sizeof h);
    if (!json_is_object(obj)) {
        set_err(err, err_size, "hosts[%zu]: expected an object", idx);
        return EINVAL;
    }
    json_object_foreach (obj, key, v) {
        long long n;

        if (!strcmp(key, "gid")) {
            error = json_addr(v, "hosts", idx, key, h.gid, err, err_size);
            h.has_gid = true;
        } else if (!strcmp(key, "lid")) {
            error = json_uint(v, "hosts", idx, key, 1, IBB_LID_MCAST_MIN - 1,
                              &n, err, err_size);
            h.lid = n;
        } else if (!strcmp(key, "qpn")) {
            error = json_uint(v, "hosts", idx, key, 1, 0xffffff, &n,
                              err, err_size);
            h.qpn = n;
        } else if (!strcmp(key, "ipv4")) {
            error = json_addr(v, "hosts", idx, key, h.ipv4, err, err_size);
            if (!error && !ibb_gid_is_v4mapped(h.ipv4)) {
                set_err(err, err_size, "hosts[%zu].ipv4: not an IPv4 "
                        "address", idx);
                error = EINVAL;
            }
            h.has_ipv4 = true;
        } else if (!strcmp(key, "ipv6")) {
            error = json_addr(v, "hosts", idx, key, h.ipv6, err, err_size);
            if (!error && ibb_gid_is_v4mapped(h.ipv6)) {
                set_err(err, err_size, "hosts[%zu].ipv6: IPv4-mapped "
                        "address, use \"ipv4\"", idx);
                error = EINVAL;
            }
            h.has_ipv6 = true;
        } else if (!strcmp(key, "mac")) {
            error = (!json_is_string(v)
                     || parse_mac(json_string_value(v), h.mac));
            if (error) {
                set_err(err, err_size, "hosts[%zu].mac: expected "
                        "xx:xx:xx:xx:xx:xx", idx);
                error = EINVAL;
            }
            h.has_mac = true;
        } else {
            set_err(err, err_size, "hosts[%zu]: unknown key \"%s\"", idx,
                    key);
            error = EINVAL;
        }
        if (error) {
            return error;
        }
    }
    error = ibb_addr_map_add_host(map, &h);
    if (error == EINVAL) {
        set_err(err, err_size, "hosts[%zu]: needs \"gid\", \"ipv4\" or "
                "\"ipv6\"", idx);
    } else if (error == EEXIST) {
        set_err(err, err_size, "hosts[%zu]: GID, LID or IP address already "
                "in the map", idx);
    } else if (error) {
        set_err(err, err_size, "hosts[%zu]: %s", idx, strerror(error));
    }
    return error;
}

static int
load_group(struct ibb_addr_map *map, json_t *obj, size_t idx,
           char *err, size_t err_size)
{
    struct ibb_group g;
    bool has_ip = false, has_mlid = false;
    const char *key;
    json_t *v;
    int error;

    memset(&g, 0, sizeof g);
    g.format = IBB_MGID_IPOIB;
    g.pkey = IBB_DEF_PKEY;
    g.scope = IBB_MCAST_SCOPE_LINK;
    if (!json_is_object(obj)) {
        set_err(err, err_size, "groups[%zu]: expected an object", idx);
        return EINVAL;
    }
    json_object_foreach (obj, key, v) {
        long long n;

        if (!strcmp(key, "ip")) {
            error = json_addr(v, "groups", idx, key, g.ip, err, err_size);
            if (!error && !ibb_ip_is_multicast(g.ip)) {
                set_err(err, err_size, "groups[%zu].ip: not a multicast "
                        "address", idx);
                error = EINVAL;
            }
            has_ip = true;
        } else if (!strcmp(key, "mlid")) {
            error = json_uint(v, "groups", idx, key, IBB_LID_MCAST_MIN,
                              IBB_LID_MCAST_MAX, &n, err, err_size);
            g.mlid = n;
            has_mlid = true;
        } else if (!strcmp(key, "format")) {
            error = (!json_is_string(v)
                     || ibb_mgid_format_parse(json_string_value(v),
                                              &g.format));
            if (error) {
                set_err(err, err_size, "groups[%zu].format: expected "
                        "\"ipoib\", \"rdma_cm\" or \"roce\"", idx);
                error = EINVAL;
            }
        } else if (!strcmp(key, "pkey")) {
            error = json_uint(v, "groups", idx, key, 1, 0xffff, &n,
                              err, err_size);
            g.pkey = n;
        } else if (!strcmp(key, "scope")) {
            error = json_uint(v, "groups", idx, key, 0, 15, &n,
                              err, err_size);
            g.scope = n;
        } else if (!strcmp(key, "mgid")) {
            error = json_addr(v, "groups", idx, key, g.mgid, err, err_size);
            g.explicit_mgid = true;
        } else {
            set_err(err, err_size, "groups[%zu]: unknown key \"%s\"", idx,
                    key);
            error = EINVAL;
        }
        if (error) {
            return error;
        }
    }
    if (!has_ip || !has_mlid) {
        set_err(err, err_size, "groups[%zu]: needs \"ip\" and \"mlid\"",
                idx);
        return EINVAL;
    }
    error = ibb_addr_map_add_group(map, &g);
    if (error == EEXIST) {
        set_err(err, err_size, "groups[%zu]: group IP or MGID already in "
                "the map", idx);
    } else if (error) {
        set_err(err, err_size, "groups[%zu]: %s", idx, strerror(error));
    }
    return error;
}

static int
load_json(struct ibb_addr_map *map, json_t *root, char *err, size_t err_size)
{
    size_t n_entries = 0;
    const char *key;
    json_t *v;

    if (!json_is_object(root)) {
        set_err(err, err_size, "top level: expected an object");
        return EINVAL;
    }
    json_object_foreach (root, key, v) {
        n_entries += json_array_size(v);
    }
    if (n_entries > IBB_ADDR_MAP_MAX_ENTRIES) {
        set_err(err, err_size, "%zu hosts and groups, more than the %d a map "
                "may have (loading a larger map would stall ovs-vswitchd; the "
                "limit is IBB_ADDR_MAP_MAX_ENTRIES in lib/addr-map.h)",
                n_entries, IBB_ADDR_MAP_MAX_ENTRIES);
        return EFBIG;
    }
    json_object_foreach (root, key, v) {
        bool hosts = !strcmp(key, "hosts");
        size_t i;
        json_t *e;

        if (!hosts && strcmp(key, "groups")) {
            set_err(err, err_size, "top level: unknown key \"%s\"", key);
            return EINVAL;
        }
        if (!json_is_array(v)) {
            set_err(err, err_size, "%s: expected an array", key);
            return EINVAL;
        }
        json_array_foreach (v, i, e) {
            int error = (hosts ? load_host(map, e, i, err, err_size)
                         : load_group(map, e, i, err, err_size));
            if (error) {
                return error;
            }
        }
    }
    return 0;
}

int
ibb_addr_map_load_json_str(struct ibb_addr_map *map, const char *json,
                           char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *root;
    int error;

    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        set_err(err, err_size, "line %d column %d: %s", jerr.line,
                jerr.column, jerr.text);
        return EINVAL;
    }
    error = load_json(map, root, err, err_size);
    json_decref(root);
    return error;
}

/* Reads all of 'fd' (whose size fstat() gave as 'size') into a malloc()ed
 * buffer '*bufp' of '*lenp' bytes.  Reads at most IBB_ADDR_MAP_MAX_BYTES + 1
 * bytes, so that a file that grew since fstat() is still caught as too
 * large.  Returns 0 or a positive errno. */
static int
read_map_file(int fd, off_t size, char **bufp, size_t *lenp)
{
    size_t cap = (size < IBB_ADDR_MAP_MAX_BYTES
                  ? size : IBB_ADDR_MAP_MAX_BYTES) + 1;
    size_t len = 0;
    char *buf = malloc(cap);

    if (!buf) {
        return ENOMEM;
    }
    for (;;) {
        ssize_t n;

        if (len == cap) {
            char *p;

            if (cap > IBB_ADDR_MAP_MAX_BYTES) {
                break;
            }
            cap = IBB_ADDR_MAP_MAX_BYTES + 1;
            p = realloc(buf, cap);
            if (!p) {
                free(buf);
                return ENOMEM;
            }
            buf = p;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            int error = errno;

            if (error == EINTR) {
                continue;
            }
            free(buf);
            return error;
        } else if (!n) {
            break;
        }
        len += n;
    }
    *bufp = buf;
    *lenp = len;
    return 0;
}

/* Sets the message for a map file of 'size' bytes, too large. */
static void
set_too_big(char *err, size_t err_size, const char *file_name,
            long long int size)
{
    set_err(err, err_size, "%s: %lld bytes, more than the %d a map file may "
            "have (loading a larger map would stall ovs-vswitchd; the limit "
            "is IBB_ADDR_MAP_MAX_BYTES in lib/addr-map.h)", file_name, size,
            IBB_ADDR_MAP_MAX_BYTES);
}

int
ibb_addr_map_load_json_file(struct ibb_addr_map *map, const char *file_name,
                            char *err, size_t err_size)
{
    json_error_t jerr;
    struct stat st;
    size_t len = 0;
    char *buf = NULL;
    json_t *root;
    int error;
    int fd;

    /* O_NONBLOCK: opening a FIFO must not wait for a writer.  It changes
     * nothing for the regular files that are all we read. */
    fd = open(file_name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        error = errno;
        set_err(err, err_size, "%s: %s", file_name, strerror(error));
        return error;
    }
    if (fstat(fd, &st)) {
        error = errno;
        set_err(err, err_size, "%s: %s", file_name, strerror(error));
        close(fd);
        return error;
    }
    if (S_ISDIR(st.st_mode)) {
        set_err(err, err_size, "%s: is a directory, not a JSON map file",
                file_name);
        close(fd);
        return EISDIR;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, err_size, "%s: not a regular file (a map must be a "
                "JSON file)", file_name);
        close(fd);
        return EINVAL;
    }
    if (st.st_size > IBB_ADDR_MAP_MAX_BYTES) {
        set_too_big(err, err_size, file_name, st.st_size);
        close(fd);
        return EFBIG;
    }
    error = read_map_file(fd, st.st_size, &buf, &len);
    close(fd);
    if (error) {
        set_err(err, err_size, "%s: %s", file_name, strerror(error));
        return error;
    }
    if (len > IBB_ADDR_MAP_MAX_BYTES) {
        /* The file grew after fstat(): 'len' is only a lower bound. */
        set_err(err, err_size, "%s: more than the %d bytes a map file may "
                "have (loading a larger map would stall ovs-vswitchd; the "
                "limit is IBB_ADDR_MAP_MAX_BYTES in lib/addr-map.h)",
                file_name, IBB_ADDR_MAP_MAX_BYTES);
        free(buf);
        return EFBIG;
    }

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!root) {
        set_err(err, err_size, "%s:%d:%d: %s", file_name, jerr.line,
                jerr.column, jerr.text);
        return EINVAL;
    }
    error = load_json(map, root, err, err_size);
    json_decref(root);
    if (error && err_size) {
        /* A copy: 'err' is both the message and where the result goes. */
        char *msg = strdup(err);

        if (msg) {
            set_err(err, err_size, "%s: %s", file_name, msg);
            free(msg);
        }
    }
    return error;
}

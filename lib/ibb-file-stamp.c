/*
 * File stamps.  See ibb-file-stamp.h.
 */
#include <config.h>

#include "ibb-file-stamp.h"

#include <string.h>
#include <sys/stat.h>

void
ibb_file_stamp_get(const char *file_name, struct ibb_file_stamp *stamp)
{
    struct stat st;

    memset(stamp, 0, sizeof *stamp);
    if (stat(file_name, &st)) {
        return;
    }
    stamp->exists = true;
    stamp->dev = st.st_dev;
    stamp->ino = st.st_ino;
    stamp->size = st.st_size;
    stamp->mtime_sec = st.st_mtim.tv_sec;
    stamp->mtime_nsec = st.st_mtim.tv_nsec;
    stamp->ctime_sec = st.st_ctim.tv_sec;
    stamp->ctime_nsec = st.st_ctim.tv_nsec;
}

bool
ibb_file_stamp_equal(const struct ibb_file_stamp *a,
                     const struct ibb_file_stamp *b)
{
    /* Filled field by field from a zeroed struct: no padding differs. */
    return !memcmp(a, b, sizeof *a);
}

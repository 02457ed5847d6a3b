/*
 * File stamps: enough of stat() to tell that a file changed (rewritten in
 * place, replaced by rename, truncated, gone or back), for files the
 * bridge reloads when they change, such as the address map.
 */
#ifndef IBB_FILE_STAMP_H
#define IBB_FILE_STAMP_H 1

#include <stdbool.h>
#include <stdint.h>

struct ibb_file_stamp {
    bool exists;                /* stat() succeeded. */
    uint64_t dev, ino;          /* Which file (a rename replaces it). */
    int64_t size;
    int64_t mtime_sec, mtime_nsec;
    int64_t ctime_sec, ctime_nsec;
};

/* Fills '*stamp' for 'file_name'; a file that cannot be stat()ed gets a
 * stamp with 'exists' false. */
void ibb_file_stamp_get(const char *file_name, struct ibb_file_stamp *stamp);

bool ibb_file_stamp_equal(const struct ibb_file_stamp *,
                          const struct ibb_file_stamp *);

#endif /* ibb-file-stamp.h */

/* What the FIRMS row scanner's two files share: the per-file spec, one row's values. See _firms_rows.c. */
#ifndef TRUCELINE_FIRMS_ROWS_H
#define TRUCELINE_FIRMS_ROWS_H
#include "_jcs_number.h"

#define MAX_WIDTH 256
#define MAX_ATTRS 32

enum { ATTR_FLOAT = 0, ATTR_STRING = 1, ATTR_CONFIDENCE = 2, ATTR_EXTRA = 3 };

typedef struct {
    Py_ssize_t width, limit;
    int lat, lon, date, time, scan, track, sat, inst;
    int n_attrs;
    const char *attr_key[MAX_ATTRS]; /* '"name":' */
    Py_ssize_t attr_key_len[MAX_ATTRS];
    int attr_col[MAX_ATTRS], attr_kind[MAX_ATTRS];
    long long earliest_us, latest_us;
    double unc_timed, unc_noon, default_pixel;
    char unc_text[2][40];
    Py_ssize_t unc_len[2];
    struct { double scan, track; PyObject *value; } recent[256]; /* footprints by pixel, borrowed from cache */
    PyObject *footprint, *cache, *validated, *observation, *consts; /* borrowed */
    const char *piece[8];
    Py_ssize_t piece_len[8];
} Spec;

typedef struct {
    int year, month, day, hour, minute, noon;
    long long days;
} Stamp;

/* One row the scanner vouches for. */
typedef struct {
    double lat, lon, sigma;
    Stamp stamp;
    char id[30];
} Row;

/* One plain line (no newline, at most spec->limit printable ASCII bytes): 1 validated (its document in doc,
 * the rest in row), 0 the row way, -1 a Python error. mode 0: the checks and the position only. */
TL_HIDDEN int tl_check_row(Spec *spec, const char *line, Py_ssize_t len, int mode, PyObject *extra, Buf *doc, Row *row);
/* Whether a byte is whitespace to str.isspace() (ASCII). */
TL_HIDDEN int tl_is_blank_byte(unsigned char c);
#endif

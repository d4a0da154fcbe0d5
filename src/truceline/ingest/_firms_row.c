/* One FIRMS line checked, identified and serialised: the rules of truceline/ingest/firms_columns.py, never
 * looser (see _firms_rows.c for why this is C and what goes the row way).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: no algorithm lookup per hash */
#include "_firms_rows.h"

#include <math.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

TL_HIDDEN int
tl_is_blank_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || (c >= 0x1c && c <= 0x1f);
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static long long
days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static int
digit2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* acq_date (YYYY-MM-DD, a real date) and acq_time ("" or 1-4 digits, HH <= 23, MM <= 59) as _stamp reads
 * them; 0 when the row must go the row way. */
static int
read_stamp(const char *d, Py_ssize_t dn, const char *t, Py_ssize_t tn, Stamp *out)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (dn != 10 || d[4] != '-' || d[7] != '-') {
        return 0;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) {
            return 0;
        }
    }
    int y = digit2(d) * 100 + digit2(d + 2), m = digit2(d + 5), day = digit2(d + 8);
    if (y < 1 || m < 1 || m > 12 || day < 1) {
        return 0;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (day > month_days[m - 1] + (m == 2 && leap)) {
        return 0;
    }
    out->year = y;
    out->month = m;
    out->day = day;
    out->days = days_from_civil(y, m, day);
    if (tn == 0) {
        out->hour = 12;
        out->minute = 0;
        out->noon = 1;
        return 1;
    }
    if (tn > 4) {
        return 0;
    }
    char hhmm[4] = {'0', '0', '0', '0'};
    for (Py_ssize_t i = 0; i < tn; i++) {
        if (t[i] < '0' || t[i] > '9') {
            return 0;
        }
        hhmm[4 - tn + i] = t[i];
    }
    out->hour = digit2(hhmm);
    out->minute = digit2(hhmm + 2);
    out->noon = 0;
    return out->hour <= 23 && out->minute <= 59;
}

/* (cov_m2 canonical bytes, sigma) of a pixel footprint from the Python rule, remembered per (scan, track);
 * NULL with no error when the footprint is refused (Py_None cached). Returns a borrowed reference. */
static PyObject *
footprint_of(Spec *spec, double scan, double track)
{
    double pair[2] = {scan, track};
    uint64_t bits[2];
    memcpy(bits, pair, sizeof(bits));
    uint64_t h = (bits[0] * 0x9E3779B97F4A7C15ull) ^ (bits[1] * 0xC2B2AE3D27D4EB4Full);
    int slot = (int)(h >> 56);
    if (spec->recent[slot].value != NULL && memcmp(&spec->recent[slot].scan, &scan, 8) == 0 &&
        memcmp(&spec->recent[slot].track, &track, 8) == 0) {
        return spec->recent[slot].value;
    }
    PyObject *key = PyBytes_FromStringAndSize((const char *)pair, sizeof(pair));
    if (key == NULL) {
        return NULL;
    }
    PyObject *value = PyDict_GetItemWithError(spec->cache, key);
    if (value == NULL && !PyErr_Occurred()) {
        value = PyObject_CallFunction(spec->footprint, "dd", scan, track);
        if (value != NULL) {
            if (value != Py_None && !(PyTuple_Check(value) && PyTuple_GET_SIZE(value) == 2 &&
                                      PyBytes_Check(PyTuple_GET_ITEM(value, 0)) && PyFloat_Check(PyTuple_GET_ITEM(value, 1)))) {
                PyErr_SetString(PyExc_TypeError, "footprint() must return (bytes, float) or None");
                Py_DECREF(value);
                value = NULL;
            }
            else if (PyDict_SetItem(spec->cache, key, value) < 0) {
                Py_DECREF(value);
                value = NULL;
            }
            else {
                Py_DECREF(value); /* the cache holds it */
            }
        }
    }
    Py_DECREF(key);
    if (value != NULL) {
        spec->recent[slot].scan = scan;
        spec->recent[slot].track = track;
        spec->recent[slot].value = value; /* the cache dict keeps it alive for the call */
    }
    return value;
}

static void
strip_spaces(const char **s, Py_ssize_t *n)
{
    while (*n > 0 && (*s)[0] == ' ') {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && (*s)[*n - 1] == ' ') {
        (*n)--;
    }
}

static int
put_string(Buf *b, const char *s, Py_ssize_t n)
{
    if (tl_buf_put(b, "\"", 1) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '\\' ? tl_buf_put(b, "\\\\", 2) < 0 : tl_buf_put(b, s + i, 1) < 0) {
            return -1;
        }
    }
    return tl_buf_put(b, "\"", 1);
}

static const char HEX[] = "0123456789abcdef";

static void
put2(char *out, int value)
{
    out[0] = (char)('0' + value / 10);
    out[1] = (char)('0' + value % 10);
}

TL_HIDDEN int
tl_check_row(Spec *spec, const char *line, Py_ssize_t len, int mode, PyObject *extra, Buf *doc, Row *row)
{
    const char *cell[MAX_WIDTH];
    Py_ssize_t cell_len[MAX_WIDTH];
    Py_ssize_t count = 0, begin = 0;
    for (Py_ssize_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',') {
            if (count == spec->width) {
                return 0;
            }
            cell[count] = line + begin;
            cell_len[count] = i - begin;
            count++;
            begin = i + 1;
        }
    }
    if (count != spec->width) {
        return 0;
    }
    if (!tl_is_decimal(cell[spec->lat], cell_len[spec->lat]) || !tl_is_decimal(cell[spec->lon], cell_len[spec->lon]) ||
        !tl_read_double(cell[spec->lat], cell_len[spec->lat], &row->lat) ||
        !tl_read_double(cell[spec->lon], cell_len[spec->lon], &row->lon)) {
        return 0;
    }
    if (!(row->lat >= -90.0 && row->lat <= 90.0 && row->lon >= -180.0 && row->lon <= 180.0)) {
        return 0;
    }
    double pixel[2] = {spec->default_pixel, spec->default_pixel};
    int pixel_col[2] = {spec->scan, spec->track};
    for (int p = 0; p < 2; p++) {
        int c = pixel_col[p];
        if (c >= 0 && cell_len[c] > 0 && !(tl_is_decimal(cell[c], cell_len[c]) && tl_read_double(cell[c], cell_len[c], &pixel[p]))) {
            return 0;
        }
    }
    for (int a = 0; a < spec->n_attrs; a++) { /* float attributes: empty or a finite plain decimal */
        int c = spec->attr_col[a];
        double ignored;
        if (spec->attr_kind[a] == ATTR_FLOAT && cell_len[c] > 0 &&
            !(tl_is_decimal(cell[c], cell_len[c]) && tl_read_double(cell[c], cell_len[c], &ignored))) {
            return 0;
        }
    }
    if (!read_stamp(cell[spec->date], cell_len[spec->date], spec->time >= 0 ? cell[spec->time] : "",
                    spec->time >= 0 ? cell_len[spec->time] : 0, &row->stamp)) {
        return 0;
    }
    long long minutes = row->stamp.days * 1440 + row->stamp.hour * 60 + row->stamp.minute;
    if (minutes * 60000000LL < spec->earliest_us || minutes * 60000000LL > spec->latest_us) {
        return 0;
    }
    PyObject *footprint = footprint_of(spec, pixel[0], pixel[1]);
    if (footprint == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (footprint == Py_None) {
        return 0;
    }
    row->sigma = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(footprint, 1));
    if (mode == 0) {
        return 1;
    }
    /* the row id: sha256(f"{lat:.6f}|{lon:.6f}|{iso}|{satellite}|{instrument}").hexdigest()[:24] */
    char key[1024 + 2 * 4096];
    Py_ssize_t kn = tl_put_fixed6(key, cell[spec->lat], cell_len[spec->lat], row->lat), part;
    if (kn < 0) {
        return -1;
    }
    key[kn++] = '|';
    part = tl_put_fixed6(key + kn, cell[spec->lon], cell_len[spec->lon], row->lon);
    if (part < 0) {
        return -1;
    }
    kn += part;
    char iso[20];
    Stamp *t = &row->stamp;
    memcpy(iso, "0000-00-00T00:00:00", 19);
    put2(iso, t->year / 100);
    put2(iso + 2, t->year % 100);
    put2(iso + 5, t->month);
    put2(iso + 8, t->day);
    put2(iso + 11, t->hour);
    put2(iso + 14, t->minute);
    key[kn++] = '|';
    memcpy(key + kn, iso, 19);
    kn += 19;
    memcpy(key + kn, "+00:00|", 7);
    kn += 7;
    int name_col[2] = {spec->sat, spec->inst};
    for (int q = 0; q < 2; q++) {
        if (name_col[q] >= 0) {
            const char *name = cell[name_col[q]];
            Py_ssize_t name_len = cell_len[name_col[q]];
            strip_spaces(&name, &name_len);
            memcpy(key + kn, name, (size_t)name_len); /* a line is at most 4096 bytes */
            kn += name_len;
        }
        if (q == 0) {
            key[kn++] = '|';
        }
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx; /* the low-level calls: SHA256() looks the algorithm up (under a lock) on every call */
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, key, (size_t)kn);
    SHA256_Final(digest, &ctx);
    memcpy(row->id, "firms-", 6);
    for (int i = 0; i < 12; i++) {
        row->id[6 + 2 * i] = HEX[digest[i] >> 4];
        row->id[7 + 2 * i] = HEX[digest[i] & 15];
    }
    /* the document: pieces and slots in the order the Python template gave (attributes, id, cov, lat, lon,
     * time, time_uncertainty_s) */
    doc->n = 0;
    if (tl_buf_put(doc, spec->piece[0], spec->piece_len[0]) < 0) {
        return -1;
    }
    int first = 1;
    for (int a = 0; a < spec->n_attrs; a++) {
        int c = spec->attr_col[a], kind = spec->attr_kind[a];
        const char *s = c >= 0 ? cell[c] : NULL;
        Py_ssize_t n = c >= 0 ? cell_len[c] : 0;
        PyObject *added = NULL;
        if (kind == ATTR_FLOAT) {
            if (n == 0) {
                continue;
            }
        }
        else if (kind == ATTR_EXTRA) {
            if (extra == NULL || extra == Py_None) {
                continue;
            }
            added = extra;
        }
        else {
            strip_spaces(&s, &n);
            if (n == 0) {
                continue;
            }
        }
        if ((!first && tl_buf_put(doc, ",", 1) < 0) || tl_buf_put(doc, spec->attr_key[a], spec->attr_key_len[a]) < 0) {
            return -1;
        }
        first = 0;
        if (kind == ATTR_FLOAT) {
            int written = tl_put_cell_number(doc, s, n);
            if (written < 0) {
                return -1;
            }
            if (written == 0) {
                double v = 0.0;
                tl_read_double(s, n, &v); /* checked above */
                if (tl_put_double(doc, v) < 0) {
                    return -1;
                }
            }
        }
        else if (kind == ATTR_STRING) {
            if (put_string(doc, s, n) < 0) {
                return -1;
            }
        }
        else if (kind == ATTR_CONFIDENCE) {
            char lower[4096];
            if (n > (Py_ssize_t)sizeof(lower)) {
                return 0;
            }
            for (Py_ssize_t i = 0; i < n; i++) {
                lower[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
            }
            const char *w = lower;
            Py_ssize_t wn = n;
            if (n == 1 && lower[0] == 'l') {
                w = "low", wn = 3;
            }
            else if (n == 1 && lower[0] == 'n') {
                w = "nominal", wn = 7;
            }
            else if (n == 1 && lower[0] == 'h') {
                w = "high", wn = 4;
            }
            if (put_string(doc, w, wn) < 0) {
                return -1;
            }
        }
        else {
            if (!PyBytes_Check(added)) {
                PyErr_SetString(PyExc_TypeError, "an extra attribute must be its canonical bytes or None");
                return -1;
            }
            if (tl_buf_put(doc, PyBytes_AS_STRING(added), PyBytes_GET_SIZE(added)) < 0) {
                return -1;
            }
        }
    }
    PyObject *cov = PyTuple_GET_ITEM(footprint, 0);
    if (tl_buf_put(doc, spec->piece[1], spec->piece_len[1]) < 0 || tl_buf_put(doc, row->id, 30) < 0 ||
        tl_buf_put(doc, spec->piece[2], spec->piece_len[2]) < 0 ||
        tl_buf_put(doc, PyBytes_AS_STRING(cov), PyBytes_GET_SIZE(cov)) < 0 ||
        tl_buf_put(doc, spec->piece[3], spec->piece_len[3]) < 0) {
        return -1;
    }
    int written = tl_put_cell_number(doc, cell[spec->lat], cell_len[spec->lat]);
    if (written < 0 || (written == 0 && tl_put_double(doc, row->lat) < 0) || tl_buf_put(doc, spec->piece[4], spec->piece_len[4]) < 0) {
        return -1;
    }
    written = tl_put_cell_number(doc, cell[spec->lon], cell_len[spec->lon]);
    if (written < 0 || (written == 0 && tl_put_double(doc, row->lon) < 0) || tl_buf_put(doc, spec->piece[5], spec->piece_len[5]) < 0) {
        return -1;
    }
    if (tl_buf_put(doc, iso, 19) < 0 || tl_buf_put(doc, "Z", 1) < 0 || tl_buf_put(doc, spec->piece[6], spec->piece_len[6]) < 0 ||
        tl_buf_put(doc, spec->unc_text[row->stamp.noon], spec->unc_len[row->stamp.noon]) < 0 ||
        tl_buf_put(doc, spec->piece[7], spec->piece_len[7]) < 0) {
        return -1;
    }
    return 1;
}

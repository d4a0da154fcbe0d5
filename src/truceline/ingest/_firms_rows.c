/* FIRMS CSV rows split, checked, serialised (RFC 8785) and identified (SHA-256) in one compiled pass.
 *
 * Why C: in Python a validated FIRMS row costs at least 5.4 us (split 0.9, row id 1.4, orjson of its
 * canonical document 3.0: docs/performance.md) against csv.reader's 0.7-1.3, so the format could not reach
 * half of csv.reader's speed however its checks were written. Here the loop over rows runs in C, and Python
 * only wraps what it returns.
 *
 * The rules are those of truceline/ingest/firms_columns.py (the Python twin, used when this module is not
 * built) and only ever stricter: a line this module cannot vouch for (any byte outside printable ASCII, a
 * quote, a wrong cell count, a cell that is not a plain decimal, a bad date, time or footprint, a time out of
 * bounds) is handed back as (k, number, start, end) for the Python row decoder, which words the refusal.
 * Numbers are written as ECMAScript writes a double (RFC 8785) from Python's own shortest round-trip digits
 * (PyOS_double_to_string 'r'), or, for a cell of at most 15 significant digits in the normal range, from the
 * cell's digits (the same digits: a decimal of <= 15 significant digits is the shortest that round-trips).
 * tests/test_firms_compiled.py checks bytes, ids and values against the Python serialiser and the model.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <datetime.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

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

/* A growable output buffer. */
typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

static int
buf_put(Buf *b, const char *s, Py_ssize_t n)
{
    if (b->n + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n) {
            cap *= 2;
        }
        char *p = PyMem_Realloc(b->p, (size_t)cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, (size_t)n);
    b->n += n;
    return 0;
}

static int
is_blank_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || (c >= 0x1c && c <= 0x1f);
}

/* Whether [s, s+n) is DECIMAL: [+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)? */
static int
is_decimal(const char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0, whole = 0, frac = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        whole++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac++;
        }
    }
    if (whole == 0 && frac == 0) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        Py_ssize_t digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
        if (digits == 0) {
            return 0;
        }
    }
    return i == n;
}

/* ECMAScript Number::toString of sign, significant digits d[0..k) (no leading or trailing zero) and the
 * decimal point position n (value = 0.d * 10^n), as canonical.py's _number lays it out. */
static int
put_es(Buf *b, int negative, const char *d, int k, int n)
{
    char out[64];
    int o = 0;
    if (negative) {
        out[o++] = '-';
    }
    if (k <= n && n <= 21) {
        memcpy(out + o, d, (size_t)k);
        o += k;
        for (int i = k; i < n; i++) {
            out[o++] = '0';
        }
    }
    else if (0 < n && n <= 21) {
        memcpy(out + o, d, (size_t)n);
        o += n;
        out[o++] = '.';
        memcpy(out + o, d + n, (size_t)(k - n));
        o += k - n;
    }
    else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -n; i++) {
            out[o++] = '0';
        }
        memcpy(out + o, d, (size_t)k);
        o += k;
    }
    else {
        int e = n - 1;
        out[o++] = d[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, d + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += snprintf(out + o, sizeof(out) - (size_t)o, "e%c%d", e >= 0 ? '+' : '-', e >= 0 ? e : -e);
    }
    return buf_put(b, out, o);
}

/* A finite double as RFC 8785 writes it, from Python's shortest round-trip digits (repr). */
static int
put_double(Buf *b, double v)
{
    if (v == 0.0) {
        return buf_put(b, "0", 1); /* also -0.0, as in ECMAScript */
    }
    char *r = PyOS_double_to_string(fabs(v), 'r', 0, 0, NULL);
    if (r == NULL) {
        return -1;
    }
    char digits[32];
    int k = 0, n = 0, seen_point = 0, exponent = 0;
    const char *c = r;
    for (; *c && *c != 'e'; c++) {
        if (*c == '.') {
            seen_point = 1;
        }
        else if (k < (int)sizeof(digits)) {
            digits[k++] = *c;
            if (!seen_point) {
                n++;
            }
        }
    }
    if (*c == 'e') {
        exponent = atoi(c + 1);
    }
    PyMem_Free(r);
    n += exponent;
    int lead = 0;
    while (lead < k && digits[lead] == '0') {
        lead++;
    }
    while (k > lead && digits[k - 1] == '0') {
        k--;
    }
    return put_es(b, v < 0, digits + lead, k - lead, n - lead);
}

/* A DECIMAL cell's canonical number from its own digits when it has at most 15 significant digits and a
 * magnitude well inside the normal range (then they are Python's shortest round-trip digits). Returns 1
 * when written, 0 when the cell needs the double (put_double), -1 on error. */
static int
put_cell_number(Buf *b, const char *s, Py_ssize_t len)
{
    char digits[16];
    int k = 0, n = 0, negative = 0, started = 0;
    Py_ssize_t i = 0;
    if (s[i] == '+' || s[i] == '-') {
        negative = s[i] == '-';
        i++;
    }
    int before_point = 1;
    for (; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
        char c = s[i];
        if (c == '.') {
            before_point = 0;
            continue;
        }
        if (!started && c == '0') {
            if (!before_point) {
                n--; /* a leading zero after the point moves the first significant digit right */
            }
            continue;
        }
        if (!started) {
            started = 1;
        }
        if (k == 15) {
            /* a 16th significant digit: only trailing zeros may follow */
            if (c != '0') {
                return 0;
            }
            if (before_point) {
                n++;
            }
            continue;
        }
        digits[k++] = c;
        if (before_point) {
            n++;
        }
    }
    if (!started) {
        return buf_put(b, "0", 1) == 0 ? 1 : -1; /* zero, any sign: "0" */
    }
    /* trailing zeros counted while k < 15 are stripped here; a zero past the 15th digit was not stored */
    while (k > 0 && digits[k - 1] == '0') {
        k--;
    }
    if (i < len) { /* exponent */
        i++;
        int exp_negative = 0;
        if (s[i] == '+' || s[i] == '-') {
            exp_negative = s[i] == '-';
            i++;
        }
        while (i < len && s[i] == '0') {
            i++;
        }
        if (len - i > 4) {
            return 0;
        }
        int e = 0;
        for (; i < len; i++) {
            e = e * 10 + (s[i] - '0');
        }
        n += exp_negative ? -e : e;
    }
    if (n < -290 || n > 290) {
        return 0;
    }
    return put_es(b, negative, digits, k, n) == 0 ? 1 : -1;
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

typedef struct {
    int year, month, day, hour, minute, noon;
    long long days;
} Stamp;

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

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A DECIMAL cell as a finite double, exactly as Python's float() reads it; 0 if not finite. Cells of at most
 * 15 significant digits and a power of ten within 10^+-22 take Clinger's fast path (the digits and the power
 * are exact doubles, so one correctly rounded multiplication or division gives the correctly rounded
 * value); any other goes through PyOS_string_to_double, which is float()'s own conversion. */
static int
read_double(const char *s, Py_ssize_t n, double *out)
{
    Py_ssize_t i = 0;
    int negative = 0, digits = 0, exponent = 0, fraction = 0, point = 0;
    uint64_t m = 0;
    if (s[i] == '+' || s[i] == '-') {
        negative = s[i] == '-';
        i++;
    }
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            point = 1;
            continue;
        }
        if (m != 0 || s[i] != '0') {
            digits++;
        }
        m = m * 10 + (uint64_t)(s[i] - '0');
        fraction += point;
        if (digits > 15) {
            goto slow;
        }
    }
    if (i < n) {
        int exp_negative = 0;
        i++;
        if (s[i] == '+' || s[i] == '-') {
            exp_negative = s[i] == '-';
            i++;
        }
        if (n - i > 3) {
            goto slow;
        }
        for (; i < n; i++) {
            exponent = exponent * 10 + (s[i] - '0');
        }
        exponent = exp_negative ? -exponent : exponent;
    }
    exponent -= fraction;
    if (exponent < -22 || exponent > 22) {
        goto slow;
    }
    double v = exponent >= 0 ? (double)m * POW10[exponent] : (double)m / POW10[-exponent];
    *out = negative ? -v : v;
    return 1;
slow:;
    char *end = NULL;
    v = PyOS_string_to_double(s, &end, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (end != s + n || !isfinite(v)) {
        return 0;
    }
    *out = v;
    return 1;
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
    if (buf_put(b, "\"", 1) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '\\' ? buf_put(b, "\\\\", 2) < 0 : buf_put(b, s + i, 1) < 0) {
            return -1;
        }
    }
    return buf_put(b, "\"", 1);
}

/* f"{v:.6f}" of a DECIMAL cell's value v. A cell without exponent and with at most 6 fraction digits is that
 * text padded with zeros: the double is within |v| * 2^-53 of the cell's decimal, far less than half of
 * 1e-6 for |v| < 1e9, so rounding it to 6 decimals gives the decimal back. Any other through
 * PyOS_double_to_string, which format() uses. Returns the length written, -1 on error. */
static Py_ssize_t
put_fixed6(char *out, const char *s, Py_ssize_t n, double v)
{
    Py_ssize_t i = 0, o = 0, fraction = -1;
    for (Py_ssize_t j = 0; j < n; j++) {
        if (s[j] == 'e' || s[j] == 'E') {
            fraction = 99;
            break;
        }
        if (s[j] == '.') {
            fraction = n - j - 1;
        }
    }
    if (fraction <= 6 && fabs(v) < 1e9) {
        if (s[i] == '+' || s[i] == '-') {
            if (s[i] == '-') {
                out[o++] = '-';
            }
            i++;
        }
        while (i < n - 1 && s[i] == '0' && s[i + 1] != '.') {
            i++; /* leading zeros of the integer part */
        }
        if (s[i] == '.') {
            out[o++] = '0';
        }
        for (; i < n; i++) {
            out[o++] = s[i];
        }
        if (fraction < 0) {
            out[o++] = '.';
            fraction = 0;
        }
        for (; fraction < 6; fraction++) {
            out[o++] = '0';
        }
        return o;
    }
    char *text = PyOS_double_to_string(v, 'f', 6, 0, NULL);
    if (text == NULL) {
        return -1;
    }
    size_t len = strlen(text);
    if (len > 400) {
        PyMem_Free(text);
        PyErr_SetString(PyExc_ValueError, "coordinate too long for the row id");
        return -1;
    }
    memcpy(out, text, len);
    PyMem_Free(text);
    return (Py_ssize_t)len;
}

/* The outcome of one plain line: 1 validated (document in doc, the rest in the out-parameters), 0 the row
 * way, -1 a Python error. mode 0 reads only the checks and the position. */
typedef struct {
    double lat, lon, sigma;
    Stamp stamp;
    char id[30];
} Row;

static const char HEX[] = "0123456789abcdef";

static void
put2(char *out, int value)
{
    out[0] = (char)('0' + value / 10);
    out[1] = (char)('0' + value % 10);
}

static int
check_row(Spec *spec, const char *line, Py_ssize_t len, int mode, PyObject *extra, Buf *doc, Row *row)
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
    if (!is_decimal(cell[spec->lat], cell_len[spec->lat]) || !is_decimal(cell[spec->lon], cell_len[spec->lon]) ||
        !read_double(cell[spec->lat], cell_len[spec->lat], &row->lat) ||
        !read_double(cell[spec->lon], cell_len[spec->lon], &row->lon)) {
        return 0;
    }
    if (!(row->lat >= -90.0 && row->lat <= 90.0 && row->lon >= -180.0 && row->lon <= 180.0)) {
        return 0;
    }
    double pixel[2] = {spec->default_pixel, spec->default_pixel};
    int pixel_col[2] = {spec->scan, spec->track};
    for (int p = 0; p < 2; p++) {
        int c = pixel_col[p];
        if (c >= 0 && cell_len[c] > 0 && !(is_decimal(cell[c], cell_len[c]) && read_double(cell[c], cell_len[c], &pixel[p]))) {
            return 0;
        }
    }
    for (int a = 0; a < spec->n_attrs; a++) { /* float attributes: empty or a finite plain decimal */
        int c = spec->attr_col[a];
        double ignored;
        if (spec->attr_kind[a] == ATTR_FLOAT && cell_len[c] > 0 &&
            !(is_decimal(cell[c], cell_len[c]) && read_double(cell[c], cell_len[c], &ignored))) {
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
    Py_ssize_t kn = put_fixed6(key, cell[spec->lat], cell_len[spec->lat], row->lat), part;
    if (kn < 0) {
        return -1;
    }
    key[kn++] = '|';
    part = put_fixed6(key + kn, cell[spec->lon], cell_len[spec->lon], row->lon);
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
    if (buf_put(doc, spec->piece[0], spec->piece_len[0]) < 0) {
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
        if ((!first && buf_put(doc, ",", 1) < 0) || buf_put(doc, spec->attr_key[a], spec->attr_key_len[a]) < 0) {
            return -1;
        }
        first = 0;
        if (kind == ATTR_FLOAT) {
            int written = put_cell_number(doc, s, n);
            if (written < 0) {
                return -1;
            }
            if (written == 0) {
                double v = 0.0;
                read_double(s, n, &v); /* checked above */
                if (put_double(doc, v) < 0) {
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
            if (buf_put(doc, PyBytes_AS_STRING(added), PyBytes_GET_SIZE(added)) < 0) {
                return -1;
            }
        }
    }
    PyObject *cov = PyTuple_GET_ITEM(footprint, 0);
    if (buf_put(doc, spec->piece[1], spec->piece_len[1]) < 0 || buf_put(doc, row->id, 30) < 0 ||
        buf_put(doc, spec->piece[2], spec->piece_len[2]) < 0 ||
        buf_put(doc, PyBytes_AS_STRING(cov), PyBytes_GET_SIZE(cov)) < 0 ||
        buf_put(doc, spec->piece[3], spec->piece_len[3]) < 0) {
        return -1;
    }
    int written = put_cell_number(doc, cell[spec->lat], cell_len[spec->lat]);
    if (written < 0 || (written == 0 && put_double(doc, row->lat) < 0) || buf_put(doc, spec->piece[4], spec->piece_len[4]) < 0) {
        return -1;
    }
    written = put_cell_number(doc, cell[spec->lon], cell_len[spec->lon]);
    if (written < 0 || (written == 0 && put_double(doc, row->lon) < 0) || buf_put(doc, spec->piece[5], spec->piece_len[5]) < 0) {
        return -1;
    }
    if (buf_put(doc, iso, 19) < 0 || buf_put(doc, "Z", 1) < 0 || buf_put(doc, spec->piece[6], spec->piece_len[6]) < 0 ||
        buf_put(doc, spec->unc_text[row->stamp.noon], spec->unc_len[row->stamp.noon]) < 0 ||
        buf_put(doc, spec->piece[7], spec->piece_len[7]) < 0) {
        return -1;
    }
    return 1;
}

/* The spec tuple Python builds once per file (truceline/ingest/firms_compiled.py: _spec). */
static int
read_spec(PyObject *t, Spec *spec)
{
    PyObject *attrs, *pieces;
    Py_ssize_t width, limit;
    if (!PyTuple_Check(t)) {
        PyErr_SetString(PyExc_TypeError, "spec must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(t, "nniiiiiiiiO!LLdddOO!OOO!O!:spec", &width, &limit, &spec->lat, &spec->lon, &spec->date,
                          &spec->time, &spec->scan, &spec->track, &spec->sat, &spec->inst, &PyTuple_Type, &attrs,
                          &spec->earliest_us, &spec->latest_us, &spec->unc_timed, &spec->unc_noon, &spec->default_pixel, &spec->footprint,
                          &PyDict_Type, &spec->cache, &spec->validated, &spec->observation, &PyTuple_Type, &spec->consts,
                          &PyTuple_Type, &pieces)) {
        return -1;
    }
    spec->width = width;
    spec->limit = limit;
    int columns[] = {spec->lat, spec->lon, spec->date, spec->time, spec->scan, spec->track, spec->sat, spec->inst};
    if (width < 1 || width > MAX_WIDTH || spec->lat < 0 || spec->lon < 0 || spec->date < 0) {
        PyErr_Format(PyExc_ValueError, "spec: width %zd (1-%d) or a required column out of range", width, MAX_WIDTH);
        return -1;
    }
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
        if (columns[i] < -1 || columns[i] >= width) {
            PyErr_Format(PyExc_ValueError, "spec: column %d is outside the %zd columns", columns[i], width);
            return -1;
        }
    }
    if (PyTuple_GET_SIZE(attrs) > MAX_ATTRS || PyTuple_GET_SIZE(pieces) != 8 || PyTuple_GET_SIZE(spec->consts) != 8) {
        PyErr_SetString(PyExc_ValueError, "spec: at most 32 attributes, 8 document pieces, 8 constant fields");
        return -1;
    }
    spec->n_attrs = (int)PyTuple_GET_SIZE(attrs);
    for (int a = 0; a < spec->n_attrs; a++) {
        PyObject *key;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(attrs, a), "O!ii:attribute", &PyBytes_Type, &key, &spec->attr_col[a],
                              &spec->attr_kind[a])) {
            return -1;
        }
        if (spec->attr_col[a] < -1 || spec->attr_col[a] >= width || spec->attr_kind[a] < 0 || spec->attr_kind[a] > 3 ||
            (spec->attr_col[a] < 0) != (spec->attr_kind[a] == ATTR_EXTRA)) {
            PyErr_Format(PyExc_ValueError, "spec: attribute %d has column %d and kind %d", a, spec->attr_col[a], spec->attr_kind[a]);
            return -1;
        }
        spec->attr_key[a] = PyBytes_AS_STRING(key);
        spec->attr_key_len[a] = PyBytes_GET_SIZE(key);
    }
    for (int i = 0; i < 8; i++) {
        PyObject *piece = PyTuple_GET_ITEM(pieces, i);
        if (!PyBytes_Check(piece)) {
            PyErr_SetString(PyExc_TypeError, "spec: document pieces must be bytes");
            return -1;
        }
        spec->piece[i] = PyBytes_AS_STRING(piece);
        spec->piece_len[i] = PyBytes_GET_SIZE(piece);
    }
    if (limit > 4096) {
        PyErr_Format(PyExc_ValueError, "spec: plain lines are at most 4096 bytes, not %zd", limit);
        return -1;
    }
    double unc[2] = {spec->unc_timed, spec->unc_noon};
    for (int i = 0; i < 2; i++) {
        Buf b = {NULL, 0, 0};
        if (!isfinite(unc[i]) || put_double(&b, unc[i]) < 0 || b.n >= 40) {
            PyMem_Free(b.p);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "spec: time uncertainties must be finite");
            }
            return -1;
        }
        memcpy(spec->unc_text[i], b.p, (size_t)b.n);
        spec->unc_len[i] = b.n;
        PyMem_Free(b.p);
    }
    memset(spec->recent, 0, sizeof(spec->recent));
    if (!PyCallable_Check(spec->footprint)) {
        PyErr_SetString(PyExc_TypeError, "spec: footprint must be callable");
        return -1;
    }
    return 0;
}

/* One validated row as validated_type(where, observation_type(canonical, id, time, time_sd_s, kind, loc_type,
 * lat, lon, sigma_m, source_id, source_type, org, reliability, credibility, releasable_to)). */
static PyObject *
build(Spec *spec, Py_ssize_t number, Buf *doc, Row *row)
{
    PyObject *args[15] = {NULL};
    PyObject *c = spec->consts, *out = NULL, *observation = NULL, *where = NULL;
    args[0] = PyBytes_FromStringAndSize(doc->p, doc->n);
    args[1] = PyUnicode_FromStringAndSize(row->id, 30);
    args[2] = PyDateTimeAPI->DateTime_FromDateAndTime(row->stamp.year, row->stamp.month, row->stamp.day, row->stamp.hour,
                                                      row->stamp.minute, 0, 0, PyDateTime_TimeZone_UTC,
                                                      PyDateTimeAPI->DateTimeType);
    args[3] = PyFloat_FromDouble(row->stamp.noon ? spec->unc_noon : spec->unc_timed);
    args[6] = PyFloat_FromDouble(row->lat);
    args[7] = PyFloat_FromDouble(row->lon);
    args[8] = PyFloat_FromDouble(row->sigma);
    if (args[0] == NULL || args[1] == NULL || args[2] == NULL || args[3] == NULL || args[6] == NULL || args[7] == NULL ||
        args[8] == NULL) {
        goto done;
    }
    args[4] = PyTuple_GET_ITEM(c, 0);
    args[5] = PyTuple_GET_ITEM(c, 1);
    for (int i = 0; i < 6; i++) {
        args[9 + i] = PyTuple_GET_ITEM(c, 2 + i);
    }
    observation = PyObject_Vectorcall(spec->observation, args, 15, NULL);
    if (observation == NULL) {
        goto done;
    }
    char text[32] = "line ";
    int n = 5;
    char reversed[24];
    int r = 0;
    size_t u = (size_t)number;
    do {
        reversed[r++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    while (r > 0) {
        text[n++] = reversed[--r];
    }
    where = PyUnicode_FromStringAndSize(text, n);
    if (where == NULL) {
        goto done;
    }
    PyObject *pair[2] = {where, observation};
    out = PyObject_Vectorcall(spec->validated, pair, 2, NULL);
done:
    Py_XDECREF(where);
    Py_XDECREF(observation);
    for (int i = 0; i < 9; i++) {
        if (i != 4 && i != 5) {
            Py_XDECREF(args[i]);
        }
    }
    return out;
}

static int
append_steal(PyObject *list, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    int r = PyList_Append(list, item);
    Py_DECREF(item);
    return r;
}

static PyObject *
scan(PyObject *module, PyObject *args)
{
    PyObject *text, *spec_tuple, *extras;
    Py_ssize_t offset, number, k, max_rows;
    int mode;
    if (!PyArg_ParseTuple(args, "UnnnnOiO:scan", &text, &offset, &number, &k, &max_rows, &spec_tuple, &mode, &extras)) {
        return NULL;
    }
    Spec spec;
    if (read_spec(spec_tuple, &spec) < 0) {
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) {
        PyErr_SetString(PyExc_ValueError, "scan needs an ASCII text (others go the Python way)");
        return NULL;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    if (offset < 0 || offset > size || max_rows < 1 || (mode != 0 && mode != 1) || (extras != Py_None && !PyList_Check(extras))) {
        PyErr_SetString(PyExc_ValueError, "scan: offset outside the text, max_rows < 1, mode not 0 or 1, or extras not a list");
        return NULL;
    }
    const char *p = (const char *)PyUnicode_DATA(text);
    PyObject *items = PyList_New(0), *result = NULL;
    Buf doc = {NULL, 0, 0}, ks = {NULL, 0, 0}, lats = {NULL, 0, 0}, lons = {NULL, 0, 0}, days = {NULL, 0, 0};
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t rows = 0;
    while (offset < size && rows < max_rows) {
        const char *newline = memchr(p + offset, '\n', (size_t)(size - offset));
        Py_ssize_t end = newline ? newline - p : size;
        Py_ssize_t start = offset;
        offset = newline ? end + 1 : size;
        Py_ssize_t line_number = number++;
        int blank = 1, plain = 1;
        for (Py_ssize_t i = start; i < end; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!is_blank_byte(c)) {
                blank = 0;
            }
            if (c < 0x20 || c > 0x7e || c == '"') {
                plain = (c == '\r' && i == end - 1) ? plain : 0;
            }
        }
        if (blank) {
            continue;
        }
        Py_ssize_t body = end - start - (p[end - 1] == '\r');
        if (body > spec.limit) {
            plain = 0;
        }
        Row row;
        PyObject *extra = NULL;
        if (plain && extras != Py_None) {
            if (k >= PyList_GET_SIZE(extras)) {
                PyErr_Format(PyExc_ValueError, "extras has %zd items, row %zd has none", PyList_GET_SIZE(extras), k);
                goto fail;
            }
            extra = PyList_GET_ITEM(extras, k);
        }
        int outcome = plain ? check_row(&spec, p + start, body, mode, extra, &doc, &row) : 0;
        if (outcome < 0) {
            goto fail;
        }
        if (outcome == 0) {
            if (append_steal(items, Py_BuildValue("nnnn", k, line_number, start, end)) < 0) {
                goto fail;
            }
        }
        else if (mode == 1) {
            if (append_steal(items, build(&spec, line_number, &doc, &row)) < 0) {
                goto fail;
            }
        }
        else {
            int64_t kk = k, day = row.stamp.days;
            if (buf_put(&ks, (const char *)&kk, 8) < 0 || buf_put(&lats, (const char *)&row.lat, 8) < 0 ||
                buf_put(&lons, (const char *)&row.lon, 8) < 0 || buf_put(&days, (const char *)&day, 8) < 0) {
                goto fail;
            }
        }
        k++;
        rows++;
    }
    if (mode == 1) {
        result = Py_BuildValue("Onnn", items, offset, number, k);
    }
    else {
        result = Py_BuildValue("Oy#y#y#y#nnn", items, ks.p ? ks.p : "", ks.n, lats.p ? lats.p : "", lats.n,
                               lons.p ? lons.p : "", lons.n, days.p ? days.p : "", days.n, offset, number, k);
    }
fail:
    Py_DECREF(items);
    PyMem_Free(doc.p);
    PyMem_Free(ks.p);
    PyMem_Free(lats.p);
    PyMem_Free(lons.p);
    PyMem_Free(days.p);
    return result;
}

static PyObject *
number_text(PyObject *module, PyObject *args)
{
    double v;
    if (!PyArg_ParseTuple(args, "d:number_text", &v)) {
        return NULL;
    }
    if (!isfinite(v)) {
        PyErr_SetString(PyExc_ValueError, "number_text: not a finite number");
        return NULL;
    }
    Buf b = {NULL, 0, 0};
    PyObject *out = put_double(&b, v) < 0 ? NULL : PyBytes_FromStringAndSize(b.p, b.n);
    PyMem_Free(b.p);
    return out;
}

static PyObject *
cell_number_text(PyObject *module, PyObject *args)
{
    const char *s;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "s#:cell_number_text", &s, &n)) {
        return NULL;
    }
    if (!is_decimal(s, n)) {
        Py_RETURN_NONE;
    }
    Buf b = {NULL, 0, 0};
    int written = put_cell_number(&b, s, n);
    PyObject *out = written < 0 ? NULL : written == 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize(b.p, b.n);
    PyMem_Free(b.p);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(text, offset, number, k, max_rows, spec, mode, extras) -> (items, ...)\n\nUp to max_rows non-blank lines "
     "of an ASCII FIRMS text from offset (line number, row index k). mode 1: items are Validated objects or "
     "(k, number, start, end) for the row way; returns (items, offset, number, k). mode 0: positions only; returns "
     "(row-way items, k int64, lat float64, lon float64, day int64 buffers, offset, number, k)."},
    {"number_text", number_text, METH_VARARGS,
     "number_text(x) -> bytes\n\nA finite double as RFC 8785 writes it (from its shortest round-trip digits)."},
    {"cell_number_text", cell_number_text, METH_VARARGS,
     "cell_number_text(cell) -> bytes | None\n\nA decimal cell's RFC 8785 number from its own digits, None when "
     "it is not a decimal or needs the double."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "truceline.ingest._firms_rows",
    "FIRMS CSV rows split, checked, serialised (RFC 8785) and identified (SHA-256) in one compiled pass.", -1, methods,
};

PyMODINIT_FUNC
PyInit__firms_rows(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}

/* ACLED rows checked, serialised (RFC 8785) and made into validated observations in C.
 *
 * Python's csv.reader splits the rows (it is the floor the bench compares with); this module pulls rows from
 * it and, for each row whose cells it can vouch for under the row decoder's rules (ingest/acled.py: _record)
 * and the model's (place name and admin <= 200 code points, attributes <= 56 KiB as compact JSON, a time in
 * [2000, now + skew]), builds Validated(where, ValidatedObservation(...)) with the canonical document written
 * here. Every other row comes back as (1, start_line, cells) for the Python row path, which alone words
 * refusals; a csv.Error as (0, start_line, exception). Rules are only ever stricter than Python's: a cell
 * with a surrogate, a date not written YYYY-MM-DD, a number that is not a plain decimal go the row way.
 * ingest/acled_compiled.py is the Python side; tests/test_acled_compiled.py compares both paths.
 */
#include "_jcs_number.h"

#include "_jcs_number.c"

#include <datetime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define N_COLS 18
#define DAY_SLOTS 256
#define MAX_TEXT 2000
#define MAX_NAME 200
#define MAX_ATTRIBUTES_BYTES (56 * 1024)
#define ATTRIBUTES_AT 14 /* strlen("{\"attributes\":"): piece 0 begins so (checked in acled_compiled.py) */

/* Column order of spec->col: the 17 required columns, then country (-1 when absent). */
enum {
    C_ID, C_DATE, C_TYPE, C_SUB, C_ACTOR1, C_ACTOR2, C_ADMIN1, C_ADMIN2, C_ADMIN3, C_LOCATION, C_LAT, C_LON, C_GEO,
    C_TIME, C_SOURCE, C_NOTES, C_FATAL, C_COUNTRY
};

typedef struct {
    Py_ssize_t width;
    int col[N_COLS];
    long long first_day, last_day; /* days since 1970-01-01 of event dates whose noon UTC the model accepts */
    PyObject *kinds, *kind_of, *validated, *observation, *line_num, *csv_error; /* borrowed */
    PyObject *time_sd[3], *sigma[3], *consts;                                   /* borrowed */
    const char *piece[6];
    Py_ssize_t piece_len[6];
    const char *unc[3];
    Py_ssize_t unc_len[3];
    PyObject *days[DAY_SLOTS]; /* owned: datetimes of noon by day, for one scan call */
    PyObject *line_num_name;   /* owned */
    PyObject *last_type, *last_sub, *last_kind; /* owned: the previous row's pair and its kind */
} Spec;

typedef struct {
    Py_ssize_t a, b; /* stripped range in code points */
} Span;

static inline Py_UCS4
ch(PyObject *s, Py_ssize_t i)
{
    return PyUnicode_READ(PyUnicode_KIND(s), PyUnicode_DATA(s), i);
}

/* str.strip()'s range (Py_UNICODE_ISSPACE is what str.strip uses). */
static Span
strip(PyObject *s)
{
    Span sp = {0, PyUnicode_GET_LENGTH(s)};
    while (sp.a < sp.b && Py_UNICODE_ISSPACE(ch(s, sp.a))) {
        sp.a++;
    }
    while (sp.b > sp.a && Py_UNICODE_ISSPACE(ch(s, sp.b - 1))) {
        sp.b--;
    }
    return sp;
}

/* ASCII bytes a JSON string escapes: control characters, '"' and '\\' (0x7f is written as it is). */
static const unsigned char needs_escape[128] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* A JSON string of s[a:b] as RFC 8785 (and orjson) write it: 1 written, 0 a surrogate (the row way), -1 error. */
static int
put_string(Buf *b, PyObject *s, Py_ssize_t a, Py_ssize_t e)
{
    static const char hex[] = "0123456789abcdef";
    if (tl_buf_put(b, "\"", 1) < 0) {
        return -1;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    if (PyUnicode_IS_ASCII(s)) {
        const char *p = (const char *)data;
        Py_ssize_t run = a;
        for (Py_ssize_t i = a; i < e; i++) {
            /* eight bytes at a time while none is below 0x20, '"' or '\\' (ASCII: every byte < 0x80) */
            while (e - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
                uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
                if (((w - ones * 0x20) | (q - ones) | (bs - ones)) & highs) {
                    break; /* some byte may need escaping (a conservative test): look at them one by one */
                }
                i += 8;
            }
            if (i >= e) {
                break;
            }
            unsigned char c = (unsigned char)p[i];
            if (!needs_escape[c]) {
                continue;
            }
            if (tl_buf_put(b, p + run, i - run) < 0) {
                return -1;
            }
            run = i + 1;
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            const char *short_esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                                  : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if ((short_esc ? tl_buf_put(b, short_esc, 2) : tl_buf_put(b, esc, 6)) < 0) {
                return -1;
            }
        }
        if (tl_buf_put(b, p + run, e - run) < 0) {
            return -1;
        }
        return tl_buf_put(b, "\"", 1) < 0 ? -1 : 1;
    }
    for (Py_ssize_t i = a; i < e; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        char out[6];
        int n = 0;
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\') {
                out[n++] = (char)c;
            } else {
                const char *short_esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                                      : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
                if (short_esc) {
                    out[n++] = short_esc[0];
                    out[n++] = short_esc[1];
                } else {
                    out[n++] = '\\';
                    out[n++] = 'u';
                    out[n++] = '0';
                    out[n++] = '0';
                    out[n++] = hex[c >> 4];
                    out[n++] = hex[c & 15];
                }
            }
        } else if (c < 0x800) {
            out[n++] = (char)(0xC0 | (c >> 6));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            if (c >= 0xD800 && c <= 0xDFFF) {
                return 0;
            }
            out[n++] = (char)(0xE0 | (c >> 12));
            out[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | (c >> 18));
            out[n++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (c & 0x3F));
        }
        if (tl_buf_put(b, out, n) < 0) {
            return -1;
        }
    }
    return tl_buf_put(b, "\"", 1) < 0 ? -1 : 1;
}

/* A one-character cell (after strip) that is '1', '2' or '3': its value, else 0. */
static int
code123(PyObject *s)
{
    Span sp = strip(s);
    if (sp.b - sp.a != 1) {
        return 0;
    }
    Py_UCS4 c = ch(s, sp.a);
    return c >= '1' && c <= '3' ? (int)(c - '0') : 0;
}

/* A stripped ASCII cell's bytes into out (at most cap bytes): its length, or -1 when not ASCII or too long. */
static Py_ssize_t
ascii_cell(PyObject *s, Span sp, char *out, Py_ssize_t cap)
{
    Py_ssize_t n = sp.b - sp.a;
    if (!PyUnicode_IS_ASCII(s) || n > cap) {
        return -1;
    }
    memcpy(out, (const char *)PyUnicode_DATA(s) + sp.a, (size_t)n);
    return n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* A number cell (stripped, plain DECIMAL, finite, within [-limit, limit]) written as RFC 8785: 1, 0 the row way, -1. */
static int
number(Buf *b, PyObject *s, double limit, double *out)
{
    char text[64];
    Py_ssize_t n = ascii_cell(s, strip(s), text, (Py_ssize_t)sizeof text);
    if (n <= 0 || !tl_is_decimal(text, n) || !tl_read_double(text, n, out) || !(*out >= -limit && *out <= limit)) {
        return 0;
    }
    int w = tl_put_cell_number(b, text, n);
    if (w == 0) {
        w = tl_put_double(b, *out) < 0 ? -1 : 1;
    }
    return w;
}

/* An attribute member '"key":"value"' of a stripped cell cut at MAX_TEXT code points, when not empty. */
static int
text_member(Buf *b, int *first, const char *key, PyObject *s)
{
    Span sp = strip(s);
    if (sp.a == sp.b) {
        return 1;
    }
    if (sp.b - sp.a > MAX_TEXT) {
        sp.b = sp.a + MAX_TEXT;
    }
    if ((*first ? 0 : tl_buf_put(b, ",", 1)) < 0 || tl_buf_put(b, key, (Py_ssize_t)strlen(key)) < 0) {
        return -1;
    }
    *first = 0;
    return put_string(b, s, sp.a, sp.b);
}

#define TRY(expr)          \
    do {                   \
        int r_ = (expr);   \
        if (r_ <= 0) {     \
            return r_;     \
        }                  \
    } while (0)
#define PUT(buf, s, n) TRY(tl_buf_put((buf), (s), (n)) < 0 ? -1 : 1)

static PyObject *lookup_kind(Spec *spec, PyObject *type, PyObject *sub);

/* The observation kind of a row's event type pair (the Python callback decides and remembers): a borrowed str,
 * Py_None for a pair not in the codebook, NULL on error. */
static PyObject *
kind_of(Spec *spec, PyObject *type, PyObject *sub)
{
    /* the previous row's pair, compared by content before any hashing (rows of a file repeat few pairs) */
    if (spec->last_kind != NULL && PyUnicode_GET_LENGTH(type) == PyUnicode_GET_LENGTH(spec->last_type) &&
        PyUnicode_GET_LENGTH(sub) == PyUnicode_GET_LENGTH(spec->last_sub) && PyUnicode_Compare(type, spec->last_type) == 0 &&
        PyUnicode_Compare(sub, spec->last_sub) == 0) {
        return spec->last_kind;
    }
    PyObject *kind = lookup_kind(spec, type, sub);
    if (kind != NULL) {
        Py_XSETREF(spec->last_type, Py_NewRef(type));
        Py_XSETREF(spec->last_sub, Py_NewRef(sub));
        Py_XSETREF(spec->last_kind, Py_NewRef(kind));
    }
    return kind;
}

static PyObject *
lookup_kind(Spec *spec, PyObject *type, PyObject *sub)
{
    PyObject *subs = PyDict_GetItemWithError(spec->kinds, type);
    if (subs != NULL) {
        PyObject *kind = PyDict_GetItemWithError(subs, sub);
        if (kind != NULL || PyErr_Occurred()) {
            return kind;
        }
    } else if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *kind = PyObject_CallFunctionObjArgs(spec->kind_of, type, sub, NULL);
    if (kind == NULL) {
        return NULL;
    }
    Py_DECREF(kind); /* the callback stored it in spec->kinds, which keeps it alive */
    return kind;
}

/* One row's checks and document: 1 vouched for (doc written, *out_* set), 0 the row way, -1 a Python error. */
static int
check_row(Spec *spec, PyObject **cells, Buf *doc, Py_ssize_t *id_at, Py_ssize_t *id_len, int *tp, int *gp, double *lat,
          double *lon, long long *day, int *ymd, PyObject **kind)
{
    PyObject *c[N_COLS];
    for (int i = 0; i < N_COLS; i++) {
        c[i] = spec->col[i] < 0 ? NULL : cells[spec->col[i]];
        if (c[i] != NULL && !PyUnicode_CheckExact(c[i])) {
            return 0;
        }
    }
    /* the id: "acled-" + the stripped event id must match the model's id pattern (<= 128 characters) */
    Span eid = strip(c[C_ID]);
    if (eid.a == eid.b || eid.b - eid.a > 128 - 6 || !PyUnicode_IS_ASCII(c[C_ID])) {
        return 0;
    }
    const char *ep = (const char *)PyUnicode_DATA(c[C_ID]);
    for (Py_ssize_t i = eid.a; i < eid.b; i++) {
        unsigned char x = (unsigned char)ep[i];
        if (!((x >= 'A' && x <= 'Z') || (x >= 'a' && x <= 'z') || (x >= '0' && x <= '9') || strchr("._:@/+-", x) != NULL) ||
            x == 0) {
            return 0;
        }
    }
    /* the date: YYYY-MM-DD only, a real day whose noon UTC lies in the model's bounds */
    char date[16];
    Py_ssize_t dn = ascii_cell(c[C_DATE], strip(c[C_DATE]), date, 10);
    if (dn != 10 || date[4] != '-' || date[7] != '-') {
        return 0;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !(date[i] >= '0' && date[i] <= '9')) {
            return 0;
        }
    }
    int y = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 + (date[3] - '0');
    int m = (date[5] - '0') * 10 + (date[6] - '0'), d = (date[8] - '0') * 10 + (date[9] - '0');
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days[m - 1] + (m == 2 && leap)) {
        return 0;
    }
    *day = days_from_civil(y, (unsigned)m, (unsigned)d);
    if (*day < spec->first_day || *day > spec->last_day) {
        return 0;
    }
    ymd[0] = y, ymd[1] = m, ymd[2] = d;
    *tp = code123(c[C_TIME]);
    *gp = code123(c[C_GEO]);
    if (*tp == 0 || *gp == 0) {
        return 0;
    }
    *kind = kind_of(spec, c[C_TYPE], c[C_SUB]);
    if (*kind == NULL) {
        return -1;
    }
    if (!PyUnicode_CheckExact(*kind)) {
        return 0;
    }
    /* fatalities: ASCII digits (empty is 0), at most 15 (below 2^53), written without leading zeros */
    char fatal[16];
    Span fs = strip(c[C_FATAL]);
    Py_ssize_t fn = fs.a == fs.b ? 0 : ascii_cell(c[C_FATAL], fs, fatal, 15);
    if (fn < 0) {
        return 0;
    }
    Py_ssize_t f0 = 0;
    for (Py_ssize_t i = 0; i < fn; i++) {
        if (fatal[i] < '0' || fatal[i] > '9') {
            return 0;
        }
    }
    while (f0 < fn - 1 && fatal[f0] == '0') {
        f0++;
    }
    if (fn == 0) {
        fatal[0] = '0', fn = 1;
    }
    Span name = strip(c[C_LOCATION]);
    if (name.a == name.b || name.b - name.a > MAX_NAME) {
        return 0;
    }
    Span admin[3] = {strip(c[C_ADMIN3]), strip(c[C_ADMIN2]), strip(c[C_ADMIN1])};
    Py_ssize_t admin_len = 0;
    int admins = 0;
    for (int i = 0; i < 3; i++) {
        if (admin[i].b > admin[i].a) {
            admin_len += (admins ? 2 : 0) + admin[i].b - admin[i].a;
            admins++;
        }
    }
    if (admin_len > MAX_NAME) {
        return 0;
    }

    /* the document, members in RFC 8785 order */
    doc->n = 0;
    PUT(doc, spec->piece[0], spec->piece_len[0]); /* {"attributes":{"acled_event_id": */
    TRY(put_string(doc, c[C_ID], eid.a, eid.b));
    int first = 0;
    TRY(text_member(doc, &first, "\"acled_source\":", c[C_SOURCE]));
    TRY(text_member(doc, &first, "\"admin1\":", c[C_ADMIN1]));
    TRY(text_member(doc, &first, "\"admin2\":", c[C_ADMIN2]));
    TRY(text_member(doc, &first, "\"admin3\":", c[C_ADMIN3]));
    Span a1 = strip(c[C_ACTOR1]), a2 = strip(c[C_ACTOR2]);
    if (a1.b > a1.a || a2.b > a2.a) {
        PUT(doc, ",\"claims\":{", 11);
        if (a1.b > a1.a) {
            PUT(doc, "\"actor1\":", 9);
            TRY(put_string(doc, c[C_ACTOR1], a1.a, a1.b));
        }
        if (a2.b > a2.a) {
            PUT(doc, a1.b > a1.a ? ",\"actor2\":" : "\"actor2\":", a1.b > a1.a ? 10 : 9);
            TRY(put_string(doc, c[C_ACTOR2], a2.a, a2.b));
        }
        PUT(doc, "}", 1);
    }
    if (c[C_COUNTRY] != NULL) {
        TRY(text_member(doc, &first, "\"country\":", c[C_COUNTRY]));
    }
    Span et = strip(c[C_TYPE]), st = strip(c[C_SUB]);
    PUT(doc, ",\"event_type\":", 14);
    TRY(put_string(doc, c[C_TYPE], et.a, et.b));
    PUT(doc, ",\"fatalities_reported\":", 23);
    PUT(doc, fatal + f0, fn - f0);
    char code[2] = {(char)('0' + *gp), 0};
    PUT(doc, ",\"geo_precision\":", 17);
    PUT(doc, code, 1);
    TRY(text_member(doc, &first, "\"notes\":", c[C_NOTES]));
    PUT(doc, ",\"sub_event_type\":", 18);
    TRY(put_string(doc, c[C_SUB], st.a, st.b));
    code[0] = (char)('0' + *tp);
    PUT(doc, ",\"time_precision\":", 18);
    PUT(doc, code, 1);
    /* attributes as compact JSON (orjson's size, any member order): from their '{' after '{"attributes":' to '}' */
    Py_ssize_t attributes_size = doc->n + 1 - ATTRIBUTES_AT;
    if (attributes_size > MAX_ATTRIBUTES_BYTES) {
        return 0;
    }
    PUT(doc, spec->piece[1], spec->piece_len[1]); /* },"credibility":3,"id":"acled- */
    *id_at = doc->n;
    PUT(doc, ep + eid.a, eid.b - eid.a);
    *id_len = eid.b - eid.a;
    PUT(doc, "\",\"kind\":", 9);
    TRY(put_string(doc, *kind, 0, PyUnicode_GET_LENGTH(*kind)));
    PUT(doc, ",\"location\":{", 13);
    if (admins) {
        PUT(doc, "\"admin\":\"", 9);
        int k = 0;
        for (int i = 0; i < 3; i++) {
            if (admin[i].b > admin[i].a) {
                if (k++) {
                    PUT(doc, ", ", 2);
                }
                PyObject *cell = c[i == 0 ? C_ADMIN3 : i == 1 ? C_ADMIN2 : C_ADMIN1];
                Py_ssize_t before = doc->n;
                TRY(put_string(doc, cell, admin[i].a, admin[i].b));
                /* drop the quotes put_string wrote around this part */
                memmove(doc->p + before, doc->p + before + 1, (size_t)(doc->n - before - 2));
                doc->n -= 2;
            }
        }
        PUT(doc, "\",", 2);
    }
    PUT(doc, "\"lat\":", 6);
    TRY(number(doc, c[C_LAT], 90.0, lat));
    PUT(doc, ",\"lon\":", 7);
    TRY(number(doc, c[C_LON], 180.0, lon));
    PUT(doc, ",\"name\":", 8);
    TRY(put_string(doc, c[C_LOCATION], name.a, name.b));
    char precision[2] = {(char)('0' + (*gp == 3 ? 4 : *gp)), 0};
    PUT(doc, ",\"precision\":", 13);
    PUT(doc, precision, 1);
    PUT(doc, spec->piece[2], spec->piece_len[2]); /* ,"type":"place"},"releasable_to":…,"time":" */
    char when[24];
    memcpy(when, date, 10);
    memcpy(when + 10, "T12:00:00Z\"", 11);
    PUT(doc, when, 21);
    PUT(doc, spec->piece[3], spec->piece_len[3]); /* ,"time_uncertainty_s": */
    PUT(doc, spec->unc[*tp - 1], spec->unc_len[*tp - 1]);
    PUT(doc, "}", 1);
    return 1;
}

/* A new reference to the datetime of noon UTC on ymd, remembered per day for this call (a file holds few days). */
static PyObject *
noon_of(Spec *spec, const int *ymd)
{
    unsigned slot = (unsigned)(ymd[0] * 372 + ymd[1] * 31 + ymd[2]) % DAY_SLOTS;
    PyObject *cached = spec->days[slot];
    if (cached != NULL && PyDateTime_GET_YEAR(cached) == ymd[0] && PyDateTime_GET_MONTH(cached) == ymd[1] &&
        PyDateTime_GET_DAY(cached) == ymd[2]) {
        return Py_NewRef(cached);
    }
    PyObject *when = PyDateTimeAPI->DateTime_FromDateAndTime(ymd[0], ymd[1], ymd[2], 12, 0, 0, 0, PyDateTime_TimeZone_UTC,
                                                             PyDateTimeAPI->DateTimeType);
    if (when != NULL) {
        Py_XSETREF(spec->days[slot], Py_NewRef(when));
    }
    return when;
}

static PyObject *
build(Spec *spec, Py_ssize_t number, Buf *doc, Py_ssize_t id_at, Py_ssize_t id_len, int tp, int gp, double lat, double lon,
      const int *ymd, PyObject *kind)
{
    PyObject *args[15] = {NULL};
    PyObject *c = spec->consts, *out = NULL, *observation = NULL, *where = NULL;
    args[0] = PyBytes_FromStringAndSize(doc->p, doc->n);
    args[1] = PyUnicode_New(6 + id_len, 127); /* "acled-" + the event id, checked ASCII */
    if (args[1] != NULL) {
        memcpy(PyUnicode_DATA(args[1]), "acled-", 6);
        memcpy((char *)PyUnicode_DATA(args[1]) + 6, doc->p + id_at, (size_t)id_len);
    }
    args[2] = noon_of(spec, ymd);
    args[6] = PyFloat_FromDouble(lat);
    args[7] = PyFloat_FromDouble(lon);
    if (args[0] == NULL || args[1] == NULL || args[2] == NULL || args[6] == NULL || args[7] == NULL) {
        goto done;
    }
    args[3] = spec->time_sd[tp - 1];
    args[4] = kind;
    args[5] = PyTuple_GET_ITEM(c, 1);
    args[8] = spec->sigma[gp - 1];
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
    where = PyUnicode_New(n, 127);
    if (where == NULL) {
        goto done;
    }
    memcpy(PyUnicode_DATA(where), text, (size_t)n);
    PyObject *pair[2] = {where, observation};
    out = PyObject_Vectorcall(spec->validated, pair, 2, NULL);
done:
    Py_XDECREF(where);
    Py_XDECREF(observation);
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    Py_XDECREF(args[6]);
    Py_XDECREF(args[7]);
    return out;
}

static int
load_spec(PyObject *t, Spec *spec)
{
    /* (width, cols[18], first_day, last_day, kinds, kind_of, validated, observation, csv_error, time_sd[3],
     *  sigma[3], consts, pieces[4], unc[3]) */
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 14) {
        PyErr_SetString(PyExc_TypeError, "bad spec");
        return -1;
    }
    spec->width = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0));
    PyObject *cols = PyTuple_GET_ITEM(t, 1);
    if (spec->width < 0 || !PyTuple_Check(cols) || PyTuple_GET_SIZE(cols) != N_COLS) {
        PyErr_SetString(PyExc_ValueError, "bad spec columns");
        return -1;
    }
    for (int i = 0; i < N_COLS; i++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(cols, i));
        if (v < -1 || v >= spec->width || (v < 0 && i != C_COUNTRY)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "bad spec column index");
            }
            return -1;
        }
        spec->col[i] = (int)v;
    }
    spec->first_day = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 2));
    spec->last_day = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 3));
    spec->kinds = PyTuple_GET_ITEM(t, 4);
    spec->kind_of = PyTuple_GET_ITEM(t, 5);
    spec->validated = PyTuple_GET_ITEM(t, 6);
    spec->observation = PyTuple_GET_ITEM(t, 7);
    spec->csv_error = PyTuple_GET_ITEM(t, 8);
    PyObject *sd = PyTuple_GET_ITEM(t, 9), *sigma = PyTuple_GET_ITEM(t, 10), *pieces = PyTuple_GET_ITEM(t, 12);
    PyObject *unc = PyTuple_GET_ITEM(t, 13);
    spec->consts = PyTuple_GET_ITEM(t, 11);
    if (PyErr_Occurred() || !PyDict_Check(spec->kinds) || !PyTuple_Check(sd) || PyTuple_GET_SIZE(sd) != 3 ||
        !PyTuple_Check(sigma) || PyTuple_GET_SIZE(sigma) != 3 || !PyTuple_Check(spec->consts) ||
        PyTuple_GET_SIZE(spec->consts) != 8 || !PyTuple_Check(pieces) || PyTuple_GET_SIZE(pieces) != 4 || !PyTuple_Check(unc) ||
        PyTuple_GET_SIZE(unc) != 3 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(spec->consts, 0))) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "bad spec values");
        }
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        spec->time_sd[i] = PyTuple_GET_ITEM(sd, i);
        spec->sigma[i] = PyTuple_GET_ITEM(sigma, i);
        char *p;
        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(unc, i), &p, &spec->unc_len[i]) < 0) {
            return -1;
        }
        spec->unc[i] = p;
    }
    for (int i = 0; i < 4; i++) {
        char *p;
        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(pieces, i), &p, &spec->piece_len[i]) < 0) {
            return -1;
        }
        spec->piece[i] = p;
    }
    return 0;
}

static void
release(Spec *spec, Buf *doc)
{
    PyMem_Free(doc->p);
    for (int i = 0; i < DAY_SLOTS; i++) {
        Py_CLEAR(spec->days[i]);
    }
    Py_CLEAR(spec->line_num_name);
    Py_CLEAR(spec->last_type);
    Py_CLEAR(spec->last_sub);
    Py_CLEAR(spec->last_kind);
}

/* scan(reader, count, spec) -> (items, finished): up to count rows of the csv reader, each a Validated, or
 * (1, start_line, cells) for the row path, or (0, start_line, csv.Error) for a row the reader refused;
 * returns (items, finished, how many are tuples). */
static PyObject *
scan(PyObject *self, PyObject *args)
{
    PyObject *reader, *spec_tuple;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "OnO", &reader, &count, &spec_tuple)) {
        return NULL;
    }
    Spec spec;
    memset(&spec, 0, sizeof spec);
    if (load_spec(spec_tuple, &spec) < 0) {
        return NULL;
    }
    spec.line_num_name = PyUnicode_InternFromString("line_num");
    PyObject *items = spec.line_num_name == NULL ? NULL : PyList_New(0);
    if (items == NULL) {
        Py_XDECREF(spec.line_num_name);
        return NULL;
    }
    Py_ssize_t left = 0;
    Buf doc = {NULL, 0, 0};
    int finished = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *num = PyObject_GetAttr(reader, spec.line_num_name);
        if (num == NULL) {
            goto fail;
        }
        Py_ssize_t start = PyLong_AsSsize_t(num) + 1;
        Py_DECREF(num);
        if (start == 0 && PyErr_Occurred()) {
            goto fail;
        }
        PyObject *cells = PyIter_Next(reader);
        PyObject *item = NULL;
        if (cells == NULL) {
            if (!PyErr_Occurred()) {
                finished = 1;
                break;
            }
            if (!PyErr_ExceptionMatches(spec.csv_error)) {
                goto fail;
            }
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            item = Py_BuildValue("(inO)", 0, start, value ? value : Py_None);
            left++;
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        } else {
            int vouched = 0;
            Py_ssize_t id_at = 0, id_len = 0;
            int tp = 0, gp = 0, ymd[3] = {0, 0, 0};
            double lat = 0, lon = 0;
            long long day = 0;
            PyObject *kind = NULL;
            if (PyList_CheckExact(cells) && PyList_GET_SIZE(cells) == spec.width) {
                vouched = check_row(&spec, ((PyListObject *)cells)->ob_item, &doc, &id_at, &id_len, &tp, &gp, &lat, &lon, &day, ymd,
                                    &kind);
            }
            if (vouched < 0) {
                Py_DECREF(cells);
                goto fail;
            }
            item = vouched ? build(&spec, start, &doc, id_at, id_len, tp, gp, lat, lon, ymd, kind)
                           : Py_BuildValue("(inO)", 1, start, cells);
            left += !vouched;
            Py_DECREF(cells);
        }
        if (item == NULL || PyList_Append(items, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    release(&spec, &doc);
    return Py_BuildValue("(Nin)", items, finished, left);
fail:
    release(&spec, &doc);
    Py_DECREF(items);
    return NULL;
}

/* string(s) -> bytes: s as an RFC 8785 string, or None when it holds a surrogate (for the tests). */
static PyObject *
string(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "a str");
        return NULL;
    }
    Buf b = {NULL, 0, 0};
    int r = put_string(&b, arg, 0, PyUnicode_GET_LENGTH(arg));
    PyObject *out = r < 0 ? NULL : r == 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize(b.p, b.n);
    PyMem_Free(b.p);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "Validated ACLED rows from a csv reader; see ingest/acled_compiled.py."},
    {"string", string, METH_O, "A str as an RFC 8785 JSON string (None if it holds a surrogate)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_acled_rows", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__acled_rows(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}
